/**
 * The schema of a policy test file: the zod schemas of the file, a test, a step and an
 * expectation; the keys each takes; and the readers of instants and durations.
 *
 * @module
 */

import { z } from "zod";
import { MAX_REPEAT } from "./types.ts";

/** The actions an expectation may name. */
const ACTIONS = ["allow", "warn", "block", "require_confirmation"] as const;
/** What an instant must look like, for messages. */
const INSTANT_TEXT = 'an ISO 8601 date-time with an offset, such as "2026-11-25T23:30:00Z"';
/** What a duration must look like, for messages. */
const DURATION_TEXT = 'a duration such as "500ms", "30s", "5m", "2h", "1d" or "1h30m"';
const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** An instant in ms, or `undefined` when the text is not an ISO date-time with an offset. */
export function parseInstant(text: string): number | undefined {
  const m = INSTANT_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.parse(text.trim());
  if (!Number.isFinite(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March; refuse days the month does not have.
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCMonth() === mo - 1 && day.getUTCDate() === d ? ms : undefined;
}

/** A duration in ms, or `undefined` when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const compact = text.replace(/\s+/g, "");
  if (!DURATION_RE.test(compact)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of compact.matchAll(DURATION_PART)) {
    ms += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** A decision action. */
const Action = z.enum(ACTIONS);
/** `policy`: one policy id or a non-empty list of them. */
export const PolicyIds = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
/** `context`: a mapping of context fields. */
const ContextSchema = z.record(z.string(), z.unknown()).nullable();
/** `at`: an ISO 8601 date-time with an offset. */
export const Instant = z
  .string()
  .refine((s) => parseInstant(s) !== undefined, { message: INSTANT_TEXT });
/** `advance`: a duration such as `1h30m`. */
const Duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: DURATION_TEXT });
/** `repeat`: how many decisions to make. */
const Repeat = z.number().int().min(1).max(MAX_REPEAT);
/** `expect` as a mapping. */
const ExpectObject = z.strictObject({
  allowed: z.boolean().optional(),
  action: Action.optional(),
  reason: z.string().min(1).optional(),
  rule: z.string().min(1).optional(),
});
/** `expect`: an action, or a mapping of what must hold. */
const Expect = z.union([Action, ExpectObject]);
/** One item of `steps`. */
const StepSchema = z.strictObject({
  context: ContextSchema.optional(),
  repeat: Repeat.optional(),
  at: Instant.optional(),
  advance: Duration.optional(),
  expect: Expect.optional(),
});
/** One item of `tests`. */
export const TestSchema = z.strictObject({
  name: z.string().min(1),
  policy: PolicyIds.optional(),
  context: ContextSchema.optional(),
  at: Instant.optional(),
  repeat: Repeat.optional(),
  expect: Expect.optional(),
  steps: z.array(StepSchema).min(1).optional(),
});
/** The file's top level. */
export const TopSchema = z.strictObject({
  tests: z.array(z.unknown()).min(1),
  policy: PolicyIds.optional(),
  at: Instant.optional(),
});

/** `expect` as written, before it becomes a `PolicyTestExpectation`. */
export type RawExpect = z.infer<typeof Expect>;

/** The keys the top level takes (for suggesting the nearest to an unknown key). */
export const TOP_KEYS = Object.keys(TopSchema.shape);
/** The keys a test takes. */
export const TEST_KEYS = Object.keys(TestSchema.shape);
/** The keys a step takes. */
export const STEP_KEYS = Object.keys(StepSchema.shape);
/** The keys a mapping `expect` takes. */
export const EXPECT_KEYS = Object.keys(ExpectObject.shape);

/** What a key takes, for messages about values of the wrong shape. */
const EXPECTED_BY_KEY: Readonly<Record<string, string>> = {
  policy: "a policy id or a list of policy ids",
  expect: `one of ${ACTIONS.join(", ")}, or a mapping of ${EXPECT_KEYS.join(", ")}`,
  context: "a mapping of context fields",
  at: INSTANT_TEXT,
  advance: DURATION_TEXT,
  repeat: `a whole number from 1 to ${MAX_REPEAT}`,
};

/** What `key` takes, in words; `undefined` when there is no wording for it. */
export function expectedFor(key: string): string | undefined {
  return Object.hasOwn(EXPECTED_BY_KEY, key) ? EXPECTED_BY_KEY[key] : undefined;
}
