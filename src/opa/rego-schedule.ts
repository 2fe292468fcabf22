/**
 * A rule's `schedule` as Rego: allowed and forbidden hours and days, and denied windows, in
 * the rule's time zone.
 *
 * @module
 */

import type { PolicyRule, Schedule, TimeWindow } from "../policy/types.ts";
import { regoString } from "./rego-syntax.ts";
import { listTerm, type Part, setTerm } from "./rego-terms.ts";

const DAY_LABEL = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
const formatWindow = (w: TimeWindow) => `${hhmm(w.startMinute)}-${hhmm(w.endMinute)}`;
const windowTerm = (w: TimeWindow) => `[${w.startMinute}, ${w.endMinute}]`;

/** The zone name OPA should load: Intl's spelling when it only differs in case. */
function zoneForOpa(zone: string): string {
  if (zone === "UTC") return zone;
  try {
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions()
      .timeZone;
    return resolved.toLowerCase() === zone.toLowerCase() ? resolved : zone;
  } catch {
    return zone;
  }
}

/** The branches that fire when the call falls outside the rule's schedule. */
export function schedule(
  rule: PolicyRule,
  s: Schedule,
  fired: (body: readonly string[], detail: readonly Part[]) => void,
): void {
  const label = rule.timezone;
  const zone = regoString(zoneForOpa(rule.timezone));
  const minute = () => `_minute_of_day(${zone})`;
  const weekday = () => `_weekday(${zone})`;
  const dayName = (): Part => ({
    expr: `_day_name(${zone})`,
    verb: "s",
  });
  if (rule.timezone !== "UTC") {
    fired([`not _zone_known(${zone})`], [`time zone '${label}' is unknown to OPA`]);
  }
  if (s.allowedHours) {
    fired(
      [`not _in_any_window(${minute()}, ${listTerm(s.allowedHours.map(windowTerm))})`],
      [`outside allowed hours ${s.allowedHours.map(formatWindow).join(", ")} (${label})`],
    );
  }
  if (s.allowedDays) {
    fired(
      [`not ${weekday()} in ${setTerm(s.allowedDays)}`],
      [dayName(), ` is not an allowed day (${label})`],
    );
  }
  for (const w of s.forbiddenHours ?? []) {
    fired(
      [`_in_window(${minute()}, ${windowTerm(w)})`],
      [`inside forbidden hours ${formatWindow(w)} (${label})`],
    );
  }
  if (s.forbiddenDays) {
    fired(
      [`${weekday()} in ${setTerm(s.forbiddenDays)}`],
      [dayName(), ` is a forbidden day (${label})`],
    );
  }
  for (const w of s.deniedWindows ?? []) {
    if (w.kind === "range") {
      const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();
      fired(
        [`time.now_ns() >= ${ns(w.startMs)}`, `time.now_ns() < ${ns(w.endMs)}`],
        [
          `inside denied window ${new Date(w.startMs).toISOString()} to ${new Date(w.endMs).toISOString()}`,
        ],
      );
      continue;
    }
    const detail = [
      `inside denied window${w.days ? ` on ${w.days.map((d) => DAY_LABEL[d]).join(", ")}` : ""}${w.hours ? ` ${formatWindow(w.hours)}` : ""} (${label})`,
    ];
    const onDays = (days: readonly number[] | undefined) =>
      days ? [`${weekday()} in ${setTerm(days)}`] : [];
    const h = w.hours;
    if (!h) fired(onDays(w.days), detail);
    else if (h.startMinute <= h.endMinute) {
      fired([...onDays(w.days), `_in_window(${minute()}, ${windowTerm(h)})`], detail);
    } else {
      // A window that crosses midnight belongs to the day it starts on.
      fired([`${minute()} >= ${h.startMinute}`, ...onDays(w.days)], detail);
      fired(
        [`${minute()} < ${h.endMinute}`, ...onDays(w.days?.map((d) => (d + 1) % 7).sort())],
        detail,
      );
    }
  }
}
