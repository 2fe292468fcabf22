/**
 * Policy test cases, like `opa test` for this language: a YAML (or JSON) file of contexts
 * and the decisions they must get, parsed by {@link parsePolicyTests} and run against a
 * policy set by {@link runPolicyTests}. Each test decides against fresh in-memory state and
 * its own clock, so stateful rules (rate limits, budgets) and schedules are tested exactly.
 *
 * ```yaml
 * tests:
 *   - name: unconfirmed delete needs confirmation
 *     policy: safe_delete
 *     context: { operation: delete }
 *     expect: require_confirmation
 * ```
 *
 * The parts, beside this file: `types.ts` (the shapes and defaults), `schema.ts` (the
 * zod schemas, instants and durations), `report.ts` (problems as positioned messages),
 * `parse.ts` (validation) and `run.ts` (running against fresh state).
 *
 * @module
 */

export { parsePolicyTests } from "./parse.ts";
export {
  DEFAULT_TEST_TIME,
  MAX_REPEAT,
  type ParsePolicyTestsOptions,
  type PolicyTestCase,
  type PolicyTestExpectation,
  type PolicyTestFile,
  type PolicyTestResult,
  type PolicyTestStep,
} from "./types.ts";
