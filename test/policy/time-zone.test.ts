import { describe, expect, it } from "vitest";
// Internal: time-zone arithmetic under schedules, tested hour by hour.
import {
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  minuteOfDay,
  periodAt,
  TimeZone,
  weekdayOf,
  yearMonthOf,
} from "../../src/policy/time-zone.ts";

const NEW_YORK = "America/New_York";
const BERLIN = "Europe/Berlin";

const utc = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test instant ${iso}`);
  return ms;
};

/** A wall-clock reading as "local ms" (ms since 1970-01-01T00:00 on the wall clock). */
const wall = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number =>
  Date.UTC(y, mo - 1, d, h, mi, s);

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset at an instant according to Intl itself (independent of TimeZone). */
function intlOffsetMs(zone: string, utcMs: number): number {
  let format = offsetFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
    offsetFormats.set(zone, format);
  }
  const text = format.formatToParts(utcMs).find((p) => p.type === "timeZoneName")?.value;
  if (text === undefined) throw new Error("Intl gave no offset");
  if (text === "GMT") return 0;
  const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`unexpected offset text ${text}`);
  const sign = m[1] === "-" ? -1 : 1;
  return sign * (Number(m[2]) * HOUR_MS + Number(m[3]) * MINUTE_MS);
}

describe("TimeZone.get and isValid", () => {
  it("returns one shared instance per zone name", () => {
    expect(TimeZone.get(BERLIN)).toBe(TimeZone.get(BERLIN));
    expect(TimeZone.get(BERLIN).name).toBe(BERLIN);
  });

  it("knows IANA zones and rejects names Intl does not know", () => {
    expect(TimeZone.isValid("UTC")).toBe(true);
    expect(TimeZone.isValid(NEW_YORK)).toBe(true);
    expect(TimeZone.isValid("Mars/Olympus_Mons")).toBe(false);
    expect(() => TimeZone.get("Mars/Olympus_Mons")).toThrow(RangeError);
  });
});

describe("TimeZone.offsetAt", () => {
  it("is always zero in UTC", () => {
    const zone = TimeZone.get("UTC");
    expect(zone.offsetAt(utc("2026-01-15T12:00:00Z"))).toBe(0);
    expect(zone.offsetAt(utc("2026-07-15T12:00:00Z"))).toBe(0);
  });

  it("is -5h in New York winter and -4h in summer", () => {
    const zone = TimeZone.get(NEW_YORK);
    expect(zone.offsetAt(utc("2026-01-15T12:00:00Z"))).toBe(-5 * HOUR_MS);
    expect(zone.offsetAt(utc("2026-07-15T12:00:00Z"))).toBe(-4 * HOUR_MS);
  });

  it("is +1h in Berlin winter and +2h in summer", () => {
    const zone = TimeZone.get(BERLIN);
    expect(zone.offsetAt(utc("2026-01-15T12:00:00Z"))).toBe(HOUR_MS);
    expect(zone.offsetAt(utc("2026-07-15T12:00:00Z"))).toBe(2 * HOUR_MS);
  });

  it("changes at the exact instant of each 2026 DST transition", () => {
    const ny = TimeZone.get(NEW_YORK);
    // Spring forward: 02:00 EST = 07:00Z. Fall back: 02:00 EDT = 06:00Z.
    expect(ny.offsetAt(utc("2026-03-08T06:59:59.999Z"))).toBe(-5 * HOUR_MS);
    expect(ny.offsetAt(utc("2026-03-08T07:00:00Z"))).toBe(-4 * HOUR_MS);
    expect(ny.offsetAt(utc("2026-11-01T05:59:59.999Z"))).toBe(-4 * HOUR_MS);
    expect(ny.offsetAt(utc("2026-11-01T06:00:00Z"))).toBe(-5 * HOUR_MS);

    const berlin = TimeZone.get(BERLIN);
    // Both EU transitions happen at 01:00Z.
    expect(berlin.offsetAt(utc("2026-03-29T00:59:59.999Z"))).toBe(HOUR_MS);
    expect(berlin.offsetAt(utc("2026-03-29T01:00:00Z"))).toBe(2 * HOUR_MS);
    expect(berlin.offsetAt(utc("2026-10-25T00:59:59.999Z"))).toBe(2 * HOUR_MS);
    expect(berlin.offsetAt(utc("2026-10-25T01:00:00Z"))).toBe(HOUR_MS);
  });

  it("gives the right offset whatever order instants are asked in (the cache never leaks)", () => {
    const zone = TimeZone.get(NEW_YORK);
    const instants = [
      "2026-03-08T07:00:00Z",
      "2026-03-08T06:59:00Z",
      "2026-07-01T00:00:00Z",
      "2026-03-08T06:45:00Z",
      "2026-11-01T06:00:00Z",
      "2026-11-01T05:59:00Z",
      "2026-03-08T07:14:59Z",
      "2026-01-01T00:00:00Z",
    ].map(utc);
    for (const t of [...instants, ...instants.toReversed()]) {
      expect(zone.offsetAt(t), new Date(t).toISOString()).toBe(intlOffsetMs(NEW_YORK, t));
    }
  });

  it("agrees with Intl every 15 minutes around every 2026 transition", () => {
    const cases: [string, string][] = [
      [NEW_YORK, "2026-03-08T00:00:00Z"],
      [NEW_YORK, "2026-11-01T00:00:00Z"],
      [BERLIN, "2026-03-28T12:00:00Z"],
      [BERLIN, "2026-10-24T12:00:00Z"],
    ];
    for (const [name, from] of cases) {
      const zone = TimeZone.get(name);
      const start = utc(from);
      for (let t = start; t < start + DAY_MS; t += 15 * MINUTE_MS) {
        expect(zone.offsetAt(t), `${name} ${new Date(t).toISOString()}`).toBe(
          intlOffsetMs(name, t),
        );
      }
    }
  });

  it("agrees with Intl at every hour of 2026 in zones with and without DST", () => {
    for (const name of [NEW_YORK, BERLIN, "Asia/Kolkata", "Australia/Sydney"]) {
      const zone = TimeZone.get(name);
      const start = utc("2026-01-01T00:00:00Z");
      const end = utc("2027-01-01T00:00:00Z");
      for (let t = start; t < end; t += HOUR_MS) {
        const expected = intlOffsetMs(name, t);
        if (zone.offsetAt(t) !== expected) {
          expect(zone.offsetAt(t), `${name} ${new Date(t).toISOString()}`).toBe(expected);
        }
      }
    }
  });
});

describe("TimeZone.localMs", () => {
  it("gives the wall-clock reading of an instant", () => {
    expect(TimeZone.get(NEW_YORK).localMs(utc("2026-07-04T16:00:00Z"))).toBe(wall(2026, 7, 4, 12));
    expect(TimeZone.get(BERLIN).localMs(utc("2026-12-31T23:30:00Z"))).toBe(wall(2027, 1, 1, 0, 30));
    expect(TimeZone.get("UTC").localMs(utc("2026-03-08T07:00:00Z"))).toBe(wall(2026, 3, 8, 7));
  });

  it("jumps from 01:59 to 03:00 at New York's spring-forward and repeats 01:xx at fall-back", () => {
    const zone = TimeZone.get(NEW_YORK);
    expect(zone.localMs(utc("2026-03-08T06:59:00Z"))).toBe(wall(2026, 3, 8, 1, 59));
    expect(zone.localMs(utc("2026-03-08T07:00:00Z"))).toBe(wall(2026, 3, 8, 3, 0));
    expect(zone.localMs(utc("2026-11-01T05:30:00Z"))).toBe(wall(2026, 11, 1, 1, 30));
    expect(zone.localMs(utc("2026-11-01T06:30:00Z"))).toBe(wall(2026, 11, 1, 1, 30));
  });
});

describe("TimeZone.toUtc", () => {
  it("converts an unambiguous wall time to its instant", () => {
    expect(TimeZone.get(NEW_YORK).toUtc(wall(2026, 7, 4, 12))).toBe(utc("2026-07-04T16:00:00Z"));
    expect(TimeZone.get(NEW_YORK).toUtc(wall(2026, 1, 15, 9))).toBe(utc("2026-01-15T14:00:00Z"));
    expect(TimeZone.get(BERLIN).toUtc(wall(2026, 1, 15, 9))).toBe(utc("2026-01-15T08:00:00Z"));
    expect(TimeZone.get(BERLIN).toUtc(wall(2026, 7, 15, 9))).toBe(utc("2026-07-15T07:00:00Z"));
    expect(TimeZone.get("UTC").toUtc(wall(2026, 3, 8, 2, 30))).toBe(utc("2026-03-08T02:30:00Z"));
  });

  it("moves a wall time skipped by spring-forward forward by the gap (02:30 → 03:30)", () => {
    // New York, 2026-03-08: 02:00–03:00 does not exist.
    const ny = TimeZone.get(NEW_YORK);
    expect(ny.toUtc(wall(2026, 3, 8, 2, 0))).toBe(utc("2026-03-08T07:00:00Z"));
    expect(ny.toUtc(wall(2026, 3, 8, 2, 30))).toBe(utc("2026-03-08T07:30:00Z"));
    expect(ny.localMs(ny.toUtc(wall(2026, 3, 8, 2, 30)))).toBe(wall(2026, 3, 8, 3, 30));
    // The edges of the gap are ordinary.
    expect(ny.toUtc(wall(2026, 3, 8, 1, 59))).toBe(utc("2026-03-08T06:59:00Z"));
    expect(ny.toUtc(wall(2026, 3, 8, 3, 0))).toBe(utc("2026-03-08T07:00:00Z"));

    // Berlin, 2026-03-29: 02:00–03:00 does not exist.
    const berlin = TimeZone.get(BERLIN);
    expect(berlin.toUtc(wall(2026, 3, 29, 2, 30))).toBe(utc("2026-03-29T01:30:00Z"));
    expect(berlin.localMs(berlin.toUtc(wall(2026, 3, 29, 2, 30)))).toBe(wall(2026, 3, 29, 3, 30));
  });

  it("resolves a wall time that occurs twice at fall-back to the earlier instant", () => {
    // New York, 2026-11-01: 01:00–02:00 happens in EDT, then again in EST.
    const ny = TimeZone.get(NEW_YORK);
    expect(ny.toUtc(wall(2026, 11, 1, 1, 0))).toBe(utc("2026-11-01T05:00:00Z"));
    expect(ny.toUtc(wall(2026, 11, 1, 1, 30))).toBe(utc("2026-11-01T05:30:00Z"));
    expect(ny.toUtc(wall(2026, 11, 1, 0, 59))).toBe(utc("2026-11-01T04:59:00Z"));
    expect(ny.toUtc(wall(2026, 11, 1, 2, 0))).toBe(utc("2026-11-01T07:00:00Z"));

    // Berlin, 2026-10-25: 02:00–03:00 happens in CEST, then again in CET.
    const berlin = TimeZone.get(BERLIN);
    expect(berlin.toUtc(wall(2026, 10, 25, 2, 30))).toBe(utc("2026-10-25T00:30:00Z"));
    expect(berlin.toUtc(wall(2026, 10, 25, 3, 0))).toBe(utc("2026-10-25T02:00:00Z"));
  });

  it("round-trips every hour of 2026 except the second pass through a repeated hour", () => {
    for (const name of [NEW_YORK, BERLIN]) {
      const zone = TimeZone.get(name);
      for (let t = utc("2026-01-01T00:00:00Z"); t < utc("2027-01-01T00:00:00Z"); t += HOUR_MS) {
        const back = zone.toUtc(zone.localMs(t));
        const repeated = zone.offsetAt(t - HOUR_MS) > zone.offsetAt(t);
        const expected = repeated ? t - HOUR_MS : t;
        if (back !== expected) {
          expect(back, `${name} ${new Date(t).toISOString()}`).toBe(expected);
        }
      }
    }
  });
});

describe("TimeZone.startOfDay", () => {
  it("is local midnight of the instant's local day", () => {
    const ny = TimeZone.get(NEW_YORK);
    expect(ny.startOfDay(utc("2026-01-15T12:00:00Z"))).toBe(utc("2026-01-15T05:00:00Z"));
    expect(ny.startOfDay(utc("2026-07-15T12:00:00Z"))).toBe(utc("2026-07-15T04:00:00Z"));
    // 03:00Z on Jan 16 is still Jan 15 in New York.
    expect(ny.startOfDay(utc("2026-01-16T03:00:00Z"))).toBe(utc("2026-01-15T05:00:00Z"));
    // Exactly at local midnight, and one ms before it.
    expect(ny.startOfDay(utc("2026-01-15T05:00:00Z"))).toBe(utc("2026-01-15T05:00:00Z"));
    expect(ny.startOfDay(utc("2026-01-15T04:59:59.999Z"))).toBe(utc("2026-01-14T05:00:00Z"));

    const berlin = TimeZone.get(BERLIN);
    expect(berlin.startOfDay(utc("2026-07-15T22:30:00Z"))).toBe(utc("2026-07-15T22:00:00Z"));
    expect(TimeZone.get("UTC").startOfDay(utc("2026-07-15T22:30:00Z"))).toBe(
      utc("2026-07-15T00:00:00Z"),
    );
  });

  it("uses the offset in force at midnight on DST-change days, not the one at the instant", () => {
    const ny = TimeZone.get(NEW_YORK);
    // Midnight on 2026-03-08 is still EST; by noon it is EDT.
    expect(ny.startOfDay(utc("2026-03-08T16:00:00Z"))).toBe(utc("2026-03-08T05:00:00Z"));
    expect(ny.startOfDay(utc("2026-03-09T16:00:00Z"))).toBe(utc("2026-03-09T04:00:00Z"));
    // Midnight on 2026-11-01 is still EDT; by noon it is EST.
    expect(ny.startOfDay(utc("2026-11-01T17:00:00Z"))).toBe(utc("2026-11-01T04:00:00Z"));
    expect(ny.startOfDay(utc("2026-11-02T17:00:00Z"))).toBe(utc("2026-11-02T05:00:00Z"));

    const berlin = TimeZone.get(BERLIN);
    expect(berlin.startOfDay(utc("2026-03-29T12:00:00Z"))).toBe(utc("2026-03-28T23:00:00Z"));
    expect(berlin.startOfDay(utc("2026-10-25T12:00:00Z"))).toBe(utc("2026-10-24T22:00:00Z"));
  });
});

describe("periodAt", () => {
  const hours = (ms: number) => ms / HOUR_MS;

  describe("hour", () => {
    it("is the UTC clock hour in UTC, with an index counting hours since 1970", () => {
      const p = periodAt(TimeZone.get("UTC"), "hour", utc("2026-05-10T13:45:12Z"));
      expect(p).toEqual({
        index: utc("2026-05-10T13:00:00Z") / HOUR_MS,
        startMs: utc("2026-05-10T13:00:00Z"),
        endMs: utc("2026-05-10T14:00:00Z"),
      });
    });

    it("starts on the local half hour in a zone with a half-hour offset", () => {
      // Asia/Kolkata is UTC+05:30: local 19:00–20:00 is 13:30Z–14:30Z.
      const p = periodAt(TimeZone.get("Asia/Kolkata"), "hour", utc("2026-05-10T13:45:00Z"));
      expect(p.startMs).toBe(utc("2026-05-10T13:30:00Z"));
      expect(p.endMs).toBe(utc("2026-05-10T14:30:00Z"));
    });

    it("counts the repeated fall-back hour as two periods", () => {
      const ny = TimeZone.get(NEW_YORK);
      const first = periodAt(ny, "hour", utc("2026-11-01T05:30:00Z")); // 01:30 EDT
      const second = periodAt(ny, "hour", utc("2026-11-01T06:30:00Z")); // 01:30 EST
      expect(first.startMs).toBe(utc("2026-11-01T05:00:00Z"));
      expect(first.endMs).toBe(utc("2026-11-01T06:00:00Z"));
      expect(second.startMs).toBe(utc("2026-11-01T06:00:00Z"));
      expect(second.endMs).toBe(utc("2026-11-01T07:00:00Z"));
      expect(second.index).toBe(first.index + 1);
    });

    it("goes from the local 01:00 hour straight to the 03:00 hour at spring-forward", () => {
      const ny = TimeZone.get(NEW_YORK);
      const before = periodAt(ny, "hour", utc("2026-03-08T06:59:59Z")); // 01:59 EST
      const after = periodAt(ny, "hour", utc("2026-03-08T07:00:00Z")); // 03:00 EDT
      expect(before.endMs).toBe(after.startMs);
      expect(after.index).toBe(before.index + 1);
      expect(ny.localMs(after.startMs)).toBe(wall(2026, 3, 8, 3));
    });
  });

  describe("day", () => {
    it("is the UTC calendar day in UTC", () => {
      const p = periodAt(TimeZone.get("UTC"), "day", utc("2026-05-10T23:59:59.999Z"));
      expect(p).toEqual({
        index: wall(2026, 5, 10) / DAY_MS,
        startMs: utc("2026-05-10T00:00:00Z"),
        endMs: utc("2026-05-11T00:00:00Z"),
      });
    });

    it("runs from local midnight to local midnight in New York and Berlin", () => {
      const ny = periodAt(TimeZone.get(NEW_YORK), "day", utc("2026-01-16T03:00:00Z"));
      expect(ny.startMs).toBe(utc("2026-01-15T05:00:00Z"));
      expect(ny.endMs).toBe(utc("2026-01-16T05:00:00Z"));
      expect(ny.index).toBe(wall(2026, 1, 15) / DAY_MS);

      const berlin = periodAt(TimeZone.get(BERLIN), "day", utc("2026-07-15T22:30:00Z"));
      expect(berlin.startMs).toBe(utc("2026-07-15T22:00:00Z"));
      expect(berlin.endMs).toBe(utc("2026-07-16T22:00:00Z"));
      expect(berlin.index).toBe(wall(2026, 7, 16) / DAY_MS);
    });

    it("is 23 hours long on the spring-forward day and 25 on the fall-back day (New York)", () => {
      const ny = TimeZone.get(NEW_YORK);
      const spring = periodAt(ny, "day", utc("2026-03-08T12:00:00Z"));
      expect(spring.startMs).toBe(utc("2026-03-08T05:00:00Z"));
      expect(spring.endMs).toBe(utc("2026-03-09T04:00:00Z"));
      expect(hours(spring.endMs - spring.startMs)).toBe(23);

      const fall = periodAt(ny, "day", utc("2026-11-01T12:00:00Z"));
      expect(fall.startMs).toBe(utc("2026-11-01T04:00:00Z"));
      expect(fall.endMs).toBe(utc("2026-11-02T05:00:00Z"));
      expect(hours(fall.endMs - fall.startMs)).toBe(25);

      // Ordinary days either side are 24 hours.
      for (const iso of [
        "2026-03-07T12:00:00Z",
        "2026-03-09T12:00:00Z",
        "2026-10-31T12:00:00Z",
        "2026-11-02T12:00:00Z",
      ]) {
        const p = periodAt(ny, "day", utc(iso));
        expect(hours(p.endMs - p.startMs), iso).toBe(24);
      }
    });

    it("is 23 hours long on the spring-forward day and 25 on the fall-back day (Berlin)", () => {
      const berlin = TimeZone.get(BERLIN);
      const spring = periodAt(berlin, "day", utc("2026-03-29T12:00:00Z"));
      expect(spring.startMs).toBe(utc("2026-03-28T23:00:00Z"));
      expect(spring.endMs).toBe(utc("2026-03-29T22:00:00Z"));
      expect(hours(spring.endMs - spring.startMs)).toBe(23);

      const fall = periodAt(berlin, "day", utc("2026-10-25T12:00:00Z"));
      expect(fall.startMs).toBe(utc("2026-10-24T22:00:00Z"));
      expect(fall.endMs).toBe(utc("2026-10-25T23:00:00Z"));
      expect(hours(fall.endMs - fall.startMs)).toBe(25);
    });

    it("is the same period for every instant of a DST day, and the next one from its end", () => {
      const ny = TimeZone.get(NEW_YORK);
      const day = periodAt(ny, "day", utc("2026-11-01T12:00:00Z"));
      expect(periodAt(ny, "day", day.startMs)).toEqual(day);
      expect(periodAt(ny, "day", utc("2026-11-01T05:30:00Z"))).toEqual(day); // 01:30 EDT
      expect(periodAt(ny, "day", utc("2026-11-01T06:30:00Z"))).toEqual(day); // 01:30 EST
      expect(periodAt(ny, "day", day.endMs - 1)).toEqual(day);
      const next = periodAt(ny, "day", day.endMs);
      expect(next.index).toBe(day.index + 1);
      expect(next.startMs).toBe(day.endMs);
      const previous = periodAt(ny, "day", day.startMs - 1);
      expect(previous.index).toBe(day.index - 1);
      expect(previous.endMs).toBe(day.startMs);
    });

    it("tiles 2026 without gaps or overlaps in New York and Berlin", () => {
      for (const name of [NEW_YORK, BERLIN]) {
        const zone = TimeZone.get(name);
        let p = periodAt(zone, "day", zone.toUtc(wall(2026, 1, 1)));
        const lengths = new Map<number, number>();
        for (let i = 0; i < 365; i++) {
          const next = periodAt(zone, "day", p.endMs);
          expect(next.startMs).toBe(p.endMs);
          expect(next.index).toBe(p.index + 1);
          const h = hours(p.endMs - p.startMs);
          lengths.set(h, (lengths.get(h) ?? 0) + 1);
          p = next;
        }
        expect(Object.fromEntries(lengths), name).toEqual({ 23: 1, 24: 363, 25: 1 });
      }
    });
  });

  describe("month", () => {
    it("is the UTC calendar month in UTC, with an index counting months since 1970", () => {
      const p = periodAt(TimeZone.get("UTC"), "month", utc("2026-02-28T23:59:59Z"));
      expect(p).toEqual({
        index: (2026 - 1970) * 12 + 1,
        startMs: utc("2026-02-01T00:00:00Z"),
        endMs: utc("2026-03-01T00:00:00Z"),
      });
    });

    it("bounds March 2026 in Berlin from 1 March 00:00 CET to 1 April 00:00 CEST", () => {
      const berlin = TimeZone.get(BERLIN);
      const march = periodAt(berlin, "month", utc("2026-03-15T12:00:00Z"));
      expect(march).toEqual({
        index: (2026 - 1970) * 12 + 2,
        startMs: utc("2026-02-28T23:00:00Z"),
        endMs: utc("2026-03-31T22:00:00Z"),
      });
      // 31 days minus the hour lost on 29 March.
      expect(hours(march.endMs - march.startMs)).toBe(31 * 24 - 1);
      // The first and last instants of March, and the neighbours.
      expect(periodAt(berlin, "month", utc("2026-02-28T23:00:00Z")).index).toBe(march.index);
      expect(periodAt(berlin, "month", utc("2026-02-28T22:59:59.999Z")).index).toBe(
        march.index - 1,
      );
      expect(periodAt(berlin, "month", utc("2026-03-31T21:59:59.999Z")).index).toBe(march.index);
      expect(periodAt(berlin, "month", utc("2026-03-31T22:00:00Z")).index).toBe(march.index + 1);
    });

    it("bounds months in New York at local midnight of the 1st", () => {
      const ny = TimeZone.get(NEW_YORK);
      const march = periodAt(ny, "month", utc("2026-03-15T12:00:00Z"));
      expect(march.startMs).toBe(utc("2026-03-01T05:00:00Z"));
      expect(march.endMs).toBe(utc("2026-04-01T04:00:00Z"));
      // 1 April 02:00Z is still 31 March in New York.
      expect(periodAt(ny, "month", utc("2026-04-01T02:00:00Z")).index).toBe(march.index);
      const november = periodAt(ny, "month", utc("2026-11-15T12:00:00Z"));
      expect(november.startMs).toBe(utc("2026-11-01T04:00:00Z"));
      expect(november.endMs).toBe(utc("2026-12-01T05:00:00Z"));
    });

    it("rolls December into January of the next year", () => {
      const berlin = TimeZone.get(BERLIN);
      const december = periodAt(berlin, "month", utc("2026-12-31T22:59:59.999Z"));
      expect(december.startMs).toBe(utc("2026-11-30T23:00:00Z"));
      expect(december.endMs).toBe(utc("2026-12-31T23:00:00Z"));
      const january = periodAt(berlin, "month", utc("2026-12-31T23:00:00Z"));
      expect(january.index).toBe(december.index + 1);
      expect(january.index).toBe((2027 - 1970) * 12);
      expect(january.startMs).toBe(december.endMs);
    });
  });
});

describe("weekdayOf, minuteOfDay, yearMonthOf", () => {
  it("gives known weekdays (0 = Sunday)", () => {
    expect(weekdayOf(wall(1970, 1, 1))).toBe(4); // Thursday
    expect(weekdayOf(wall(1969, 12, 31, 23, 59))).toBe(3); // Wednesday, before the epoch
    expect(weekdayOf(wall(2026, 3, 8, 12))).toBe(0); // Sunday
    expect(weekdayOf(wall(2026, 3, 2))).toBe(1); // Monday
    expect(weekdayOf(wall(2026, 3, 7, 23, 59, 59))).toBe(6); // Saturday
    expect(weekdayOf(wall(2000, 2, 29))).toBe(2); // Tuesday
  });

  it("gives the minute of the day, 0 to 1439", () => {
    expect(minuteOfDay(wall(2026, 3, 8))).toBe(0);
    expect(minuteOfDay(wall(2026, 3, 8, 9, 0))).toBe(540);
    expect(minuteOfDay(wall(2026, 3, 8, 16, 59, 59) + 999)).toBe(1019);
    expect(minuteOfDay(wall(2026, 3, 8, 23, 59, 59) + 999)).toBe(1439);
    expect(minuteOfDay(wall(1969, 12, 31, 23, 59))).toBe(1439);
  });

  it("gives year and month, including leap days and century years", () => {
    expect(yearMonthOf(wall(1970, 1, 1))).toEqual({ year: 1970, month: 1 });
    expect(yearMonthOf(wall(1969, 12, 31, 23, 59))).toEqual({ year: 1969, month: 12 });
    expect(yearMonthOf(wall(2024, 2, 29, 23, 59))).toEqual({ year: 2024, month: 2 });
    expect(yearMonthOf(wall(2024, 3, 1))).toEqual({ year: 2024, month: 3 });
    expect(yearMonthOf(wall(2000, 2, 29))).toEqual({ year: 2000, month: 2 });
    expect(yearMonthOf(wall(2100, 3, 1))).toEqual({ year: 2100, month: 3 });
    expect(yearMonthOf(wall(2026, 12, 31, 23, 59, 59) + 999)).toEqual({ year: 2026, month: 12 });
  });

  it("agree with Date's UTC fields for every day from 1896 to 2104", () => {
    for (let t = wall(1896, 1, 1, 13, 7); t < wall(2104, 1, 1); t += DAY_MS) {
      const d = new Date(t);
      const got = [weekdayOf(t), minuteOfDay(t), yearMonthOf(t)];
      const want = [
        d.getUTCDay(),
        13 * 60 + 7,
        { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 },
      ];
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        expect(got, d.toISOString()).toEqual(want);
      }
    }
  });

  it("read the wall clock of a zone when given its localMs", () => {
    const ny = TimeZone.get(NEW_YORK);
    // 2026-03-07T03:00Z is Friday 22:00 in New York (Saturday in UTC).
    const local = ny.localMs(utc("2026-03-07T03:00:00Z"));
    expect(weekdayOf(local)).toBe(5);
    expect(minuteOfDay(local)).toBe(22 * 60);
    // 2026-04-01T02:00Z is still 31 March in New York.
    expect(yearMonthOf(ny.localMs(utc("2026-04-01T02:00:00Z")))).toEqual({ year: 2026, month: 3 });
  });
});

describe("hour periods in zones with half-hour offsets and shifts", () => {
  it("gives every hour of Lord Howe's 30-minute DST change its own index", () => {
    const zone = TimeZone.get("Australia/Lord_Howe");
    // DST ends on 2026-04-05: 02:00 (+11:00) becomes 01:30 (+10:30), i.e. at 15:00Z on the 4th.
    const seen = new Map<number, number>();
    for (let t = Date.UTC(2026, 3, 4, 10); t < Date.UTC(2026, 3, 4, 20); t += 15 * 60_000) {
      const p = periodAt(zone, "hour", t);
      expect(t >= p.startMs && t < p.endMs).toBe(true);
      const start = seen.get(p.index);
      if (start !== undefined) expect(start).toBe(p.startMs);
      seen.set(p.index, p.startMs);
    }
    expect(new Set(seen.values()).size).toBe(seen.size);
  });

  it("uses fractional hours as the index where hours start off the UTC hour", () => {
    const p = periodAt(TimeZone.get("Asia/Kolkata"), "hour", Date.UTC(2026, 0, 1, 10, 0));
    expect(p.index % 1).toBe(0.5); // Kolkata's hours start at :30 UTC
  });
});
