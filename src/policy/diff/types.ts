/**
 * The public shapes of a policy diff: {@link PolicyChange}, what kind of thing changed and
 * what the change does to the calls let through.
 *
 * @module
 */

/**
 * What a change does to the calls a policy lets through: `loosened` lets more through (or
 * warns less), `tightened` fewer (or warns more), `changed` when that is not clear (a
 * condition rewritten, a priority, a time zone) or the change has no effect (the rule or
 * policy is disabled on both sides).
 */
export type ChangeEffect = "loosened" | "tightened" | "changed";

/** What kind of thing changed. */
export type PolicyChangeKind =
  | "policy_added"
  | "policy_removed"
  | "rule_added"
  | "rule_removed"
  | "field_changed";

/** One semantic change between two policy sets. */
export interface PolicyChange {
  /** The policy the change is in; `""` for the file's top-level settings (`enforcement`). */
  readonly policyId: string;
  /**
   * The rule, labelled as its file names it: its own `id` (or `name`), else its position,
   * `rules[2]` (in the new file; in the old one for a removed rule).
   */
  readonly ruleId?: string;
  readonly kind: PolicyChangeKind;
  /** The key that changed, as the file spells it: `requests_per_minute`, `monthly_budget`, `action`… */
  readonly field?: string;
  /**
   * The old value, JSON-friendly and in the file's units: `100`, `10` (dollars), `"block"`,
   * `["delete"]`, `["09:00-17:00"]`; a policy or rule object for removals. Absent when the
   * key was not there.
   */
  readonly before?: unknown;
  /** The new value, as {@link PolicyChange.before}; absent when the key was removed. */
  readonly after?: unknown;
  /** Whether the change lets more calls through, fewer, or neither clearly. */
  readonly effect: ChangeEffect;
  /**
   * One line for a reader, e.g.
   * `rate_limit rules[0]: requests_per_minute raised from 100 to 200 (loosened)`.
   */
  readonly message: string;
}
