/**
 * Time-zone arithmetic on top of `Intl`, fast enough for the decision path.
 *
 * Converting an instant to wall-clock time with `Intl.DateTimeFormat` costs microseconds,
 * so a {@link TimeZone} caches the UTC offset for the current 15-minute slot: every
 * transition in current tzdata falls on a quarter hour, so within a slot the offset
 * cannot change. Wall-clock fields are then plain arithmetic.
 *
 * @module
 */

/** Milliseconds in one minute. */
export const MINUTE_MS = 60_000;
/** Milliseconds in one hour. */
export const HOUR_MS = 3_600_000;
/** Milliseconds in one day. */
export const DAY_MS = 86_400_000;
const SLOT_MS = 15 * MINUTE_MS;

const zones = new Map<string, TimeZone>();
/** Zone names `Intl` accepted (bounded: names come from policy files). */
const validNames = new Set<string>();

/** An IANA time zone with a cached offset. Get one with {@link TimeZone.get}. */
export class TimeZone {
  /** The IANA name, as given (e.g. `America/New_York`, `UTC`). */
  readonly name: string;
  readonly #format: Intl.DateTimeFormat | undefined;
  #slot = Number.NaN;
  #offsetMs = 0;

  private constructor(name: string) {
    this.name = name;
    // UTC needs no formatter: its offset is always zero.
    this.#format =
      name === "UTC"
        ? undefined
        : new Intl.DateTimeFormat("en-US", {
            timeZone: name,
            hourCycle: "h23",
            year: "numeric",
            month: "numeric",
            day: "numeric",
            hour: "numeric",
            minute: "numeric",
            second: "numeric",
          });
  }

  /**
   * Returns the shared instance for an IANA zone name.
   * @throws RangeError when the name is not a time zone `Intl` knows.
   */
  static get(name: string): TimeZone {
    let zone = zones.get(name);
    if (!zone) {
      zone = new TimeZone(name);
      zones.set(name, zone);
    }
    return zone;
  }

  /** True when `Intl` knows the zone name. */
  static isValid(name: string): boolean {
    // Building a formatter costs tens of microseconds: a file of 20,000 policies that name
    // the same zone must not build 20,000 of them.
    if (zones.has(name) || validNames.has(name)) return true;
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: name });
    } catch {
      return false;
    }
    if (validNames.size >= 4096) validNames.clear();
    validNames.add(name);
    return true;
  }

  /** The zone's offset from UTC at an instant, in ms (local = utc + offset). */
  offsetAt(utcMs: number): number {
    if (!this.#format) return 0;
    const slot = Math.floor(utcMs / SLOT_MS);
    if (slot === this.#slot) return this.#offsetMs;
    const offset = this.#computeOffset(utcMs);
    this.#slot = slot;
    this.#offsetMs = offset;
    return offset;
  }

  /** Wall-clock time at an instant, as ms since 1970-01-01T00:00 local. */
  localMs(utcMs: number): number {
    return utcMs + this.offsetAt(utcMs);
  }

  /**
   * The instant at which the wall clock shows `localMs`. A wall time skipped by a
   * spring-forward gap is moved forward by the gap's length; a wall time that occurs twice
   * (fall-back) resolves to the earlier instant (Temporal's "compatible" disambiguation).
   */
  toUtc(localMs: number): number {
    const before = this.#offsetUncached(localMs - DAY_MS);
    const after = this.#offsetUncached(localMs + DAY_MS);
    const a = localMs - before;
    const b = localMs - after;
    const aValid = this.#offsetUncached(a) === before;
    const bValid = this.#offsetUncached(b) === after;
    if (aValid && bValid) return Math.min(a, b);
    if (aValid) return a;
    if (bValid) return b;
    return a; // in a gap: shift forward by the gap, using the offset in force before it
  }

  /** The instant the local calendar day containing `utcMs` starts. */
  startOfDay(utcMs: number): number {
    const local = this.localMs(utcMs);
    return this.toUtc(local - mod(local, DAY_MS));
  }

  #offsetUncached(utcMs: number): number {
    if (!this.#format) return 0;
    const slot = Math.floor(utcMs / SLOT_MS);
    return slot === this.#slot ? this.#offsetMs : this.#computeOffset(utcMs);
  }

  #computeOffset(utcMs: number): number {
    const format = this.#format;
    if (!format) return 0;
    const whole = utcMs - mod(utcMs, 1000);
    let year = 0;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    for (const part of format.formatToParts(whole)) {
      switch (part.type) {
        case "year":
          year = Number(part.value);
          break;
        case "month":
          month = Number(part.value);
          break;
        case "day":
          day = Number(part.value);
          break;
        case "hour":
          hour = Number(part.value);
          break;
        case "minute":
          minute = Number(part.value);
          break;
        case "second":
          second = Number(part.value);
          break;
        default:
          break;
      }
    }
    return Date.UTC(year, month - 1, day, hour, minute, second) - whole;
  }
}

/** Mathematical modulo (non-negative for a positive divisor). */
export function mod(n: number, d: number): number {
  const r = n % d;
  return r < 0 ? r + d : r;
}

/** Weekday of a local-ms value: 0 = Sunday … 6 = Saturday. */
export function weekdayOf(localMs: number): number {
  // 1970-01-01 was a Thursday.
  return mod(Math.floor(localMs / DAY_MS) + 4, 7);
}

/** Minute of the day (0–1439) of a local-ms value. */
export function minuteOfDay(localMs: number): number {
  return Math.floor(mod(localMs, DAY_MS) / MINUTE_MS);
}

/** Calendar year and month (1–12) of a local-ms value. */
export function yearMonthOf(localMs: number): { year: number; month: number } {
  // Howard Hinnant's civil_from_days.
  const z = Math.floor(localMs / DAY_MS) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month };
}

/** The calendar periods a budget can count over. */
export type CalendarPeriod = "hour" | "day" | "month";

/** One calendar period in a zone: its index (stable across processes) and its bounds. */
export interface PeriodBounds {
  /** A number that identifies the period (hours since 1970 on the UTC timeline; days or months since 1970, local). */
  readonly index: number;
  /** First instant of the period (UTC ms). */
  readonly startMs: number;
  /** First instant after the period (UTC ms). */
  readonly endMs: number;
}

/** The calendar hour, day or month containing `utcMs`, in `zone`. */
export function periodAt(zone: TimeZone, period: CalendarPeriod, utcMs: number): PeriodBounds {
  const local = zone.localMs(utcMs);
  if (period === "hour") {
    // Hours are counted on the UTC timeline: a repeated wall-clock hour is two periods.
    // The index is hours since 1970, fractional in zones whose hours start off the UTC hour
    // (+05:30, +05:45): so it stays unique when a half-hour DST shift (Lord Howe) moves them.
    const start = utcMs - mod(local, HOUR_MS);
    return { index: start / HOUR_MS, startMs: start, endMs: start + HOUR_MS };
  }
  const dayStartLocal = local - mod(local, DAY_MS);
  if (period === "day") {
    return {
      index: Math.floor(dayStartLocal / DAY_MS),
      startMs: zone.toUtc(dayStartLocal),
      endMs: zone.toUtc(dayStartLocal + DAY_MS),
    };
  }
  const { year, month } = yearMonthOf(local);
  return {
    index: (year - 1970) * 12 + (month - 1),
    startMs: zone.toUtc(Date.UTC(year, month - 1, 1)),
    endMs: zone.toUtc(Date.UTC(year, month, 1)),
  };
}
