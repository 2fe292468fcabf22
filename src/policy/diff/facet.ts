/**
 * One field of a rule in the diff's terms (a {@link Facet}: its key, value, text and
 * meaning) and the comparison of a rule's fields across versions.
 *
 * @module
 */

import { type Dir, flip, relate, type Sem } from "./semantics.ts";

/**
 * What a rule field's effect depends on (besides its policy being enabled): `rule` fields
 * matter only while the rule is enabled and does more than allow; `action` while the rule
 * is enabled; `enabled` (the rule's own switch) when the side it is on does more than allow.
 */
export type Scope = "rule" | "action" | "enabled";

/** What a field means when the file leaves it out. */
export interface Absent {
  /** The default, when there is one to show (`true` for `enabled`). */
  readonly value?: unknown;
  /** How to show the default; without it, a change from or to absent is "added" / "removed". */
  readonly text?: string;
  readonly sem: Sem;
}

/** One field of a rule or policy, with what it means. */
export interface Facet {
  /** Aligns the field across versions (budgets by unit and period, rate limits by window). */
  readonly key: string;
  /** The file's key. */
  readonly field: string;
  /** The noun in messages (default: {@link Facet.field}). */
  readonly noun?: string;
  /** Position in the fixed field order. */
  readonly order: number;
  readonly value: unknown;
  readonly text: string;
  readonly sem: Sem;
  readonly absent: Absent;
  readonly scope: Scope;
  /** Compared only when both versions have it (a time zone that only matters with a schedule). */
  readonly bothOnly?: boolean;
}

/** A difference in one field, before liveness decides its effect. */
export interface FieldDiff {
  readonly field: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly dir: Dir;
  readonly text: string;
  readonly scope: Scope;
  readonly key: string;
}

/** Compares one field across versions (at least one side has it). */
function compareFacets(b: Facet | undefined, a: Facet | undefined): FieldDiff | undefined {
  const some = (a ?? b) as Facet;
  const sb = b ? b.sem : some.absent.sem;
  const sa = a ? a.sem : some.absent.sem;
  const rel = relate(sb, sa);
  if (!rel) return undefined;
  const field = some.field;
  const noun = some.noun ?? field;
  const bText = b ? b.text : some.absent.text;
  const aText = a ? a.text : some.absent.text;
  let dir = rel.dir;
  let text: string;
  if (bText === undefined) {
    text = `${noun} added: ${aText}`;
    if (sa.kind === "opaque") dir = sa.whenAdded;
  } else if (aText === undefined) {
    text = `${noun} removed (was ${bText})`;
    if (sb.kind === "opaque") dir = flip(sb.whenAdded);
  } else {
    text = `${noun} ${rel.verb} from ${bText} to ${aText}`;
  }
  const before = b ? b.value : some.absent.value;
  const after = a ? a.value : some.absent.value;
  return {
    field,
    key: some.key,
    dir,
    text,
    scope: some.scope,
    ...(before !== undefined && { before }),
    ...(after !== undefined && { after }),
  };
}

/** Compares two lists of facets field by field, in the fixed field order. */
export function compareAll(before: ReadonlyMap<string, Facet>, after: ReadonlyMap<string, Facet>) {
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const orderOf = (k: string) => (before.get(k) ?? after.get(k))?.order ?? 0;
  keys.sort((x, y) => orderOf(x) - orderOf(y));
  const diffs: FieldDiff[] = [];
  for (const key of keys) {
    const b = before.get(key);
    const a = after.get(key);
    if ((b?.bothOnly || a?.bothOnly) && !(a && b)) continue;
    const d = compareFacets(b, a);
    if (d) diffs.push(d);
  }
  return diffs;
}
