/**
 * A semantic diff of two loaded policy sets, for `hexarch-ctl policy diff OLD NEW`: it
 * says what changed in the terms a reader cares about — a limit raised, a rule removed, an
 * action softened — and whether each change lets more calls through or fewer.
 *
 * It compares the normalized {@link PolicySet}, so spellings that mean the same thing
 * (`deny` and `block`, `daily_limit` and `requests_per_day`, `requires: confirmation` and
 * `requires_approval: true`, `"09:00-09:00"` and `"00:00-24:00"`) are not changes.
 *
 * The parts, beside this file: `rule-facets.ts` reads each rule field in the file's terms
 * (values shown by `render.ts`, schedules as sets of time by `schedule.ts`); `semantics.ts`
 * and `facet.ts` compare a field across versions and say which way it moves the rule;
 * `match.ts` pairs rules across versions; `policies.ts` walks the two sets; `format.ts`
 * prints the report.
 *
 * @module
 */

export { formatChanges } from "./format.ts";
export { diffPolicies } from "./policies.ts";
export type { ChangeEffect, PolicyChange, PolicyChangeKind } from "./types.ts";
