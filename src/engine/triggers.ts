/**
 * The stateless triggers of a rule that need more than a comparison: schedules,
 * `allowed_users` and `parameter:` bounds.
 *
 * @module
 */

import type { Context } from "../kernel/context.ts";
import { compileFieldPath } from "../policy/field-path.ts";
import { minuteOfDay, type TimeZone, weekdayOf } from "../policy/time-zone.ts";
import type { PolicyRule, Schedule, TimeWindow } from "../policy/types.ts";
import { describeValue } from "../util/describe.ts";
import type { LazyText, Outcome, Trigger } from "./compile-rule.ts";

function formatWindow(w: TimeWindow): string {
  const f = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return `${f(w.startMinute)}-${f(w.endMinute)}`;
}

function inWindow(w: TimeWindow, minute: number): boolean {
  if (w.startMinute < w.endMinute) return minute >= w.startMinute && minute < w.endMinute;
  if (w.startMinute > w.endMinute) return minute >= w.startMinute || minute < w.endMinute;
  return true; // "09:00-09:00": the whole day
}

/**
 * Whether a recurring denied window holds at a local weekday and minute. A window that
 * crosses midnight belongs to the day it starts on: Friday 22:00-02:00 runs into Saturday.
 */
function inRecurring(
  w: { readonly days?: readonly number[]; readonly hours?: TimeWindow },
  day: number,
  minute: number,
): boolean {
  const onDay = (d: number) => !w.days || w.days.includes(d);
  const h = w.hours;
  if (!h) return onDay(day);
  if (h.startMinute <= h.endMinute) return onDay(day) && inWindow(h, minute);
  if (minute >= h.startMinute) return onDay(day);
  if (minute < h.endMinute) return onDay((day + 6) % 7);
  return false;
}

const DAY_LABEL = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** Reads the user id: `userId`, else `user_id`. */
export function contextUserId(ctx: Context): string | undefined {
  const id = ctx.userId ?? ctx.user_id;
  return typeof id === "string" ? id : typeof id === "number" ? String(id) : undefined;
}

export function allowedUsersTrigger(
  entries: readonly string[],
  fired: (d: LazyText) => Outcome,
): Trigger {
  const users = new Set(entries.filter((e) => !e.startsWith("@")));
  const roles = new Set(
    entries.filter((e) => e.startsWith("@") && e !== "@self").map((e) => e.slice(1)),
  );
  const self = entries.includes("@self");
  return (ctx) => {
    const user = contextUserId(ctx);
    if (user !== undefined && users.has(user)) return undefined;
    if (self && user !== undefined) {
      const owner = ctx.ownerId ?? ctx.owner_id;
      if ((typeof owner === "string" || typeof owner === "number") && String(owner) === user)
        return undefined;
    }
    if (roles.size > 0) {
      const r = ctx.roles ?? ctx.role;
      if (typeof r === "string" && roles.has(r)) return undefined;
      if (Array.isArray(r) && r.some((x) => typeof x === "string" && roles.has(x)))
        return undefined;
    }
    return fired(
      user === undefined
        ? "no user id in the context; allowed_users applies"
        : `user '${user}' is not allowed`,
    );
  };
}

export function scheduleTrigger(
  s: Schedule,
  zone: TimeZone,
  fired: (d: LazyText) => Outcome,
): Trigger {
  const tz = zone.name;
  const allowedDays = s.allowedDays && new Set(s.allowedDays);
  const forbiddenDays = s.forbiddenDays && new Set(s.forbiddenDays);
  return (_ctx, nowMs) => {
    const local = zone.localMs(nowMs);
    const minute = minuteOfDay(local);
    const day = weekdayOf(local);
    if (s.allowedHours && !s.allowedHours.some((w) => inWindow(w, minute))) {
      return fired(`outside allowed hours ${s.allowedHours.map(formatWindow).join(", ")} (${tz})`);
    }
    if (allowedDays && !allowedDays.has(day))
      return fired(`${DAY_LABEL[day]} is not an allowed day (${tz})`);
    if (s.forbiddenHours) {
      const w = s.forbiddenHours.find((x) => inWindow(x, minute));
      if (w) return fired(`inside forbidden hours ${formatWindow(w)} (${tz})`);
    }
    if (forbiddenDays?.has(day)) return fired(`${DAY_LABEL[day]} is a forbidden day (${tz})`);
    if (s.deniedWindows) {
      for (const w of s.deniedWindows) {
        if (w.kind === "range") {
          if (nowMs >= w.startMs && nowMs < w.endMs) {
            return fired(
              `inside denied window ${new Date(w.startMs).toISOString()} to ${new Date(w.endMs).toISOString()}`,
            );
          }
        } else if (inRecurring(w, day, minute)) {
          return fired(
            `inside denied window${w.days ? ` on ${w.days.map((d) => DAY_LABEL[d]).join(", ")}` : ""}${w.hours ? ` ${formatWindow(w.hours)}` : ""} (${tz})`,
          );
        }
      }
    }
    return undefined;
  };
}

export function parameterTrigger(rule: PolicyRule, fired: (d: LazyText) => Outcome): Trigger {
  const p = rule.parameter as NonNullable<PolicyRule["parameter"]>;
  const get = compileFieldPath(p.name);
  const allowed = p.allowedValues && new Set(p.allowedValues);
  return (ctx, _now, input) => {
    let v = get(ctx);
    if (v === undefined) {
      const first = input?.args?.[0];
      if (
        first !== null &&
        typeof first === "object" &&
        !Array.isArray(first) &&
        Object.hasOwn(first, p.name)
      ) {
        v = (first as Record<string, unknown>)[p.name];
      }
    }
    if (v === undefined) return undefined;
    const name = `parameter '${p.name}'`;
    if (p.min !== undefined || p.max !== undefined) {
      if (typeof v !== "number" || Number.isNaN(v))
        return fired(`${name} must be a number, got ${describeValue(v)}`);
      if (p.min !== undefined && v < p.min)
        return fired(`${name} = ${v} is below the minimum ${p.min}`);
      if (p.max !== undefined && v > p.max)
        return fired(`${name} = ${v} is above the maximum ${p.max}`);
    }
    if (p.maxLength !== undefined) {
      const len = typeof v === "string" || Array.isArray(v) ? v.length : undefined;
      if (len === undefined) return fired(`${name} must be a string or a list to have a length`);
      if (len > p.maxLength)
        return fired(`${name} is ${len} long, over the maximum of ${p.maxLength}`);
    }
    if (allowed && !allowed.has(v))
      return fired(`${name} = ${describeValue(v)} is not one of the allowed values`);
    return undefined;
  };
}
