/**
 * Values shown in the file's terms: compact JSON-friendly text, `HH:MM-HH:MM` windows,
 * day names, conditions on one line and `denied_windows` entries as the file writes them.
 *
 * @module
 */

import type { Condition } from "../conditions.ts";
import type { DeniedWindow, TimeWindow } from "../types.ts";

/** Shows a JSON-friendly value compactly: strings bare, lists in brackets. */
export function show(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${show(x)}`)
      .join(", ")}}`;
  }
  return String(v);
}

/** Minutes of the day as `HH:MM`. */
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
/** A time window as the file writes it: `09:00-17:00`. */
export const formatWindow = (w: TimeWindow) => `${hhmm(w.startMinute)}-${hhmm(w.endMinute)}`;
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const dayName = (d: number): string => DAYS[d] ?? String(d);
/** Day names, Monday first. */
export const dayNames = (days: readonly number[]): string[] =>
  [...days].sort((x, y) => ((x + 6) % 7) - ((y + 6) % 7)).map(dayName);

const OPERATOR_TEXT: Readonly<Record<string, string>> = {
  equals: "==",
  not_equals: "!=",
  greater_than: ">",
  greater_or_equal: ">=",
  less_than: "<",
  less_or_equal: "<=",
  not_in: "not in",
  not_contains: "not contains",
};

/** Renders a condition on one line: `tier in ["free","trial"] and (amount > 1000 or not (verified == true))`. */
export function renderCondition(c: Condition, nested = false): string {
  if ("all" in c || "any" in c) {
    const [parts, joiner] = "all" in c ? [c.all, " and "] : [c.any, " or "];
    const text = parts.map((p) => renderCondition(p, true)).join(joiner);
    return nested && parts.length > 1 ? `(${text})` : text;
  }
  if ("not" in c) return `not (${renderCondition(c.not)})`;
  const op = OPERATOR_TEXT[c.operator] ?? c.operator;
  if (c.operator === "exists" || c.operator === "not_exists") return `${c.field} ${op}`;
  return `${c.field} ${op} ${JSON.stringify(c.value) ?? "null"}`;
}

/** A `denied_windows` entry as the file writes it: `"22:00-06:00"`, `{days, hours}` or `{start, end}`. */
export function deniedWindowValue(w: DeniedWindow): unknown {
  if (w.kind === "range") {
    return { start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString() };
  }
  if (!w.days && w.hours) return formatWindow(w.hours);
  return {
    ...(w.days && { days: dayNames(w.days) }),
    ...(w.hours && { hours: formatWindow(w.hours) }),
  };
}

/** `1 rule`, `3 rules`. */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
