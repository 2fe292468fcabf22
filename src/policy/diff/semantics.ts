/**
 * What a field's value means, for comparing it across versions: numbers, sets that cover
 * others, flags, ranks (action severity) and opaque values; how two meanings relate
 * (raised, narrowed…) and which direction that moves the rule (tighter, looser); and how a
 * direction becomes the {@link ChangeEffect} reported.
 *
 * @module
 */

import { compileGlobs } from "../glob.ts";
import type { ChangeEffect } from "./types.ts";

/** Whether the new value makes the rule restrict more (`tighter`), less, or neither clearly. */
export type Dir = "tighter" | "looser" | "unknown";

/** A half-open interval of UTC milliseconds. */
export type Interval = readonly [number, number];

/** Something that covers a set of values, for subset/superset comparisons. */
export type Cover =
  /** Minutes of a day, weekdays, or minutes of a week (plus absolute ranges). */
  | { readonly type: "bits"; readonly bits: Uint8Array; readonly ranges: readonly Interval[] }
  /** A finite set of values, or every value. */
  | { readonly type: "set"; readonly all: boolean; readonly items: ReadonlySet<string> }
  /** Glob patterns (`*` matches everything). */
  | { readonly type: "globs"; readonly patterns: readonly string[] };

/** What a field's value means, for comparing it across versions. */
export type Sem =
  | { readonly kind: "num"; readonly n: number; readonly tighter: "lower" | "higher" }
  | { readonly kind: "cover"; readonly cover: Cover; readonly tighter: "bigger" | "smaller" }
  | { readonly kind: "flag"; readonly on: boolean; readonly tighterWhen: boolean }
  | { readonly kind: "rank"; readonly rank: number }
  | { readonly kind: "opaque"; readonly id: string; readonly whenAdded: Dir };

/** The opposite direction (`unknown` stays `unknown`). */
export const flip = (d: Dir): Dir => (d === "tighter" ? "looser" : d === "looser" ? "tighter" : d);

/** Whether `outer` covers everything `inner` does (both of the same type). */
function covers(outer: Cover, inner: Cover): boolean {
  if (outer.type === "bits" && inner.type === "bits") {
    if (outer.bits.length !== inner.bits.length) return false;
    for (let i = 0; i < inner.bits.length; i++) if (inner.bits[i] && !outer.bits[i]) return false;
    return inner.ranges.every(([s, e]) => outer.ranges.some(([os, oe]) => os <= s && e <= oe));
  }
  if (outer.type === "set" && inner.type === "set") {
    if (outer.all) return true;
    return !inner.all && [...inner.items].every((i) => outer.items.has(i));
  }
  if (outer.type === "globs" && inner.type === "globs") {
    if (outer.patterns.includes("*")) return true;
    if (inner.patterns.includes("*")) return false;
    const match = compileGlobs(outer.patterns);
    // A glob inside another glob is not worked out: only literals are tested against globs.
    return inner.patterns.every((p) => outer.patterns.includes(p) || (!/[*?]/.test(p) && match(p)));
  }
  return false;
}

/** How `after` relates to `before`; `undefined` when they mean the same. */
export function relate(before: Sem, after: Sem): { dir: Dir; verb: string } | undefined {
  const changed = { dir: "unknown", verb: "changed" } as const;
  switch (before.kind) {
    case "num": {
      if (after.kind !== "num") return changed;
      if (after.n === before.n) return undefined;
      const up = after.n > before.n;
      return {
        verb: up ? "raised" : "lowered",
        dir: up === (before.tighter === "higher") ? "tighter" : "looser",
      };
    }
    case "cover": {
      if (after.kind !== "cover") return changed;
      const widened = covers(after.cover, before.cover);
      const narrowed = covers(before.cover, after.cover);
      if (widened && narrowed) return undefined;
      if (!widened && !narrowed) return changed;
      const bigger = widened;
      return {
        verb: bigger ? "widened" : "narrowed",
        dir: bigger === (before.tighter === "bigger") ? "tighter" : "looser",
      };
    }
    case "flag":
      if (after.kind !== "flag") return changed;
      if (after.on === before.on) return undefined;
      if (after.tighterWhen !== before.tighterWhen) return changed;
      return { verb: "changed", dir: after.on === after.tighterWhen ? "tighter" : "looser" };
    case "rank":
      if (after.kind !== "rank") return changed;
      if (after.rank === before.rank) return undefined;
      return { verb: "changed", dir: after.rank > before.rank ? "tighter" : "looser" };
    case "opaque":
      if (after.kind === "opaque" && after.id === before.id) return undefined;
      return changed;
  }
}

// ---------------------------------------------------------------------------------------
// Building meanings

/** No limit at all: what an absent quantity limit means. */
export const NO_LIMIT: Sem = { kind: "num", n: Number.POSITIVE_INFINITY, tighter: "lower" };
/** A number; `tighter` says which way restricts more. */
export const num = (n: number, tighter: "lower" | "higher"): Sem => ({ kind: "num", n, tighter });
/** A cover; `tighter` says whether covering more restricts more. */
export const cover = (c: Cover, tighter: "bigger" | "smaller"): Sem => ({
  kind: "cover",
  cover: c,
  tighter,
});
/** An on/off value; `tighterWhen` is the state that restricts more. */
export const flag = (on: boolean, tighterWhen: boolean): Sem => ({ kind: "flag", on, tighterWhen });
/** A value compared only for equality; `whenAdded` is what adding it does. */
export const opaque = (id: string, whenAdded: Dir): Sem => ({ kind: "opaque", id, whenAdded });
/** The opaque id of a value the file leaves out. */
export const ABSENT_ID = "\u0000absent";
/** The set of `items` (strings as they are, others as JSON); `undefined` covers every value. */
export const stringSet = (items: readonly unknown[] | undefined): Cover => ({
  type: "set",
  all: items === undefined,
  items: new Set((items ?? []).map((i) => (typeof i === "string" ? i : JSON.stringify(i)))),
});
/** The empty set. */
export const noSet: Cover = { type: "set", all: false, items: new Set() };

// ---------------------------------------------------------------------------------------
// Effects

/** The effect of a change in direction `dir`; `changed` when it cannot take effect (`live` false). */
export const effectOf = (dir: Dir, live: boolean): ChangeEffect =>
  !live || dir === "unknown" ? "changed" : dir === "tighter" ? "tightened" : "loosened";

/** The message's ending: ` (loosened)`, ` (tightened)`, else ` (note)` when there is one. */
export const suffix = (effect: ChangeEffect, note?: string) =>
  effect !== "changed" ? ` (${effect})` : note ? ` (${note})` : "";
