/**
 * Normalizing schedules: time windows, days, denied windows and instants in a zone.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import type { DocPath, IssueCollector } from "./issues.ts";
import { dayNumbers, type RawRule, TIME_WINDOW_PATTERN } from "./schema.ts";
import { MINUTE_MS, TimeZone } from "./time-zone.ts";
import type { DeniedWindow, Schedule, TimeWindow } from "./types.ts";

const list = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? (v as readonly T[]) : [v as T];

/** Parses `"HH:MM-HH:MM"` into minutes. Assumes the pattern already matched. */
export function parseTimeWindow(text: string): TimeWindow {
  const m = TIME_WINDOW_PATTERN.exec(text.trim());
  if (!m) throw new GuardrailError(`not a time window: ${text}`, { code: "time_window_invalid" });
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = m[3] === "24:00" ? 1440 : Number(m[4]) * 60 + Number(m[5]);
  return { startMinute: start, endMinute: end };
}

export function normalizeSchedule(
  raw: RawRule,
  timezone: string,
  path: DocPath,
  issues: IssueCollector,
): Schedule | undefined {
  const windows = (v: string | string[] | undefined) => list(v)?.map(parseTimeWindow);
  const dayList = (v: string | string[] | undefined) => {
    const names = list(v);
    return names && [...new Set(names.flatMap(dayNumbers))].sort();
  };
  const deniedWindows: DeniedWindow[] = [];
  raw.denied_windows?.forEach((w, i) => {
    const wPath = [...path, "denied_windows", i];
    if (typeof w === "string") {
      deniedWindows.push({ kind: "recurring", hours: parseTimeWindow(w) });
    } else if ("start" in w) {
      const startMs = parseInstant(w.start, timezone);
      const endMs = parseInstant(w.end, timezone);
      if (startMs === undefined)
        issues.add([...wPath, "start"], `expected an ISO date-time, got '${w.start}'`);
      if (endMs === undefined)
        issues.add([...wPath, "end"], `expected an ISO date-time, got '${w.end}'`);
      if (startMs !== undefined && endMs !== undefined) {
        if (endMs <= startMs) issues.add([...wPath, "end"], "end must be after start");
        else deniedWindows.push({ kind: "range", startMs, endMs });
      }
    } else {
      if (w.days === undefined && w.hours === undefined) {
        issues.add(wPath, "a denied window needs days, hours, or start and end");
        return;
      }
      const days = dayList(w.days);
      deniedWindows.push({
        kind: "recurring",
        ...(days && { days }),
        ...(w.hours !== undefined && { hours: parseTimeWindow(w.hours) }),
      });
    }
  });
  const allowedHours = windows(raw.allowed_hours);
  const forbiddenHours = windows(raw.forbidden_hours);
  const allowedDays = dayList(raw.allowed_days);
  const forbiddenDays = dayList(raw.forbidden_days);
  if (
    !allowedHours &&
    !forbiddenHours &&
    !allowedDays &&
    !forbiddenDays &&
    deniedWindows.length === 0
  ) {
    return undefined;
  }
  return {
    ...(allowedHours && { allowedHours }),
    ...(allowedDays && { allowedDays }),
    ...(forbiddenHours && { forbiddenHours }),
    ...(forbiddenDays && { forbiddenDays }),
    ...(deniedWindows.length > 0 && { deniedWindows }),
  };
}

/** Parses an ISO date or date-time; one without an offset is wall-clock time in `timezone`. */
function parseInstant(text: string, timezone: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      text.trim(),
    );
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", offset] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const local = Date.UTC(...fields, ms);
  // Date.UTC rolls impossible dates over (Feb 30 → Mar 2); refuse them instead.
  const back = new Date(local);
  const same =
    back.getUTCFullYear() === fields[0] &&
    back.getUTCMonth() === fields[1] &&
    back.getUTCDate() === fields[2] &&
    back.getUTCHours() === fields[3] &&
    back.getUTCMinutes() === fields[4] &&
    back.getUTCSeconds() === fields[5];
  if (!same) return undefined;
  if (offset === undefined) return TimeZone.get(timezone).toUtc(local);
  if (offset === "Z") return local;
  const sign = offset.startsWith("-") ? -1 : 1;
  const digits = offset.slice(1).replace(":", "");
  return local - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * MINUTE_MS;
}
