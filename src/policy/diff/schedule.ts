/**
 * Schedules as sets of time, for comparing them by inclusion: the minutes of a day a list
 * of windows covers, the days of a week, and the minutes of a week (plus absolute ranges)
 * that `denied_windows` forbids.
 *
 * @module
 */

import type { DeniedWindow, TimeWindow } from "../types.ts";
import type { Cover, Interval } from "./semantics.ts";

/** Minutes in a day. */
const DAY_MINUTES = 1440;

/** The minutes of a day `windows` cover (one byte each); `whenAbsent` fills them all when there are none. */
export function minuteBits(
  windows: readonly TimeWindow[] | undefined,
  whenAbsent: 0 | 1,
): Uint8Array {
  const bits = new Uint8Array(DAY_MINUTES);
  if (!windows) return bits.fill(whenAbsent);
  for (const w of windows) {
    if (w.startMinute < w.endMinute) bits.fill(1, w.startMinute, w.endMinute);
    else if (w.startMinute > w.endMinute) bits.fill(1, w.startMinute).fill(1, 0, w.endMinute);
    else bits.fill(1); // "09:00-09:00": the whole day
  }
  return bits;
}

/** The days of a week `days` lists (Sunday first); `whenAbsent` fills them all when there are none. */
export function dayBits(days: readonly number[] | undefined, whenAbsent: 0 | 1): Uint8Array {
  const bits = new Uint8Array(7);
  if (!days) return bits.fill(whenAbsent);
  for (const d of days) bits[d] = 1;
  return bits;
}

/**
 * The minutes of the week `denied_windows` covers (a window crossing midnight belongs to
 * the day it starts on, as the engine reads it), and its absolute ranges, merged.
 */
export function deniedCover(windows: readonly DeniedWindow[] | undefined): Cover {
  const bits = new Uint8Array(7 * DAY_MINUTES);
  const ranges: Interval[] = [];
  for (const w of windows ?? []) {
    if (w.kind === "range") {
      ranges.push([w.startMs, w.endMs]);
      continue;
    }
    for (const d of w.days ?? [0, 1, 2, 3, 4, 5, 6]) {
      const day = d * DAY_MINUTES;
      const h = w.hours;
      if (!h || h.startMinute === h.endMinute) bits.fill(1, day, day + DAY_MINUTES);
      else if (h.startMinute < h.endMinute) bits.fill(1, day + h.startMinute, day + h.endMinute);
      else {
        bits.fill(1, day + h.startMinute, day + DAY_MINUTES);
        const next = ((d + 1) % 7) * DAY_MINUTES;
        bits.fill(1, next, next + h.endMinute);
      }
    }
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of ranges) {
    const last = merged.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return { type: "bits", bits, ranges: merged };
}
