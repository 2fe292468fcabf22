/**
 * The `hexarch.yaml` schema: one zod definition that validates files and generates the
 * JSON Schema editors use (`schema/hexarch.schema.json`, via `npm run schema`).
 *
 * Keys are snake_case, as in files written for the Python package. Unknown keys inside a
 * policy or a rule are errors (a mistyped limit must never switch a guard off); unknown
 * top-level sections are ignored.
 *
 * @module
 */

import type { z } from "zod";
import { loadZod } from "../util/lazy-module.ts";
import { OPERATOR_ALIASES, OPERATORS } from "./conditions.ts";

/** `warn_at_80%`, `block_at_90%` and the plain actions. */
export const ACTION_PATTERN =
  /^(allow|warn|block|deny|require_confirmation|require_approval|(warn|block)_at_(\d{1,3}(\.\d+)?)%)$/;

/** `HH:MM-HH:MM`, 24-hour clock; `24:00` may end a window. */
export const TIME_WINDOW_PATTERN =
  /^([01]\d|2[0-3]):([0-5]\d)\s*-\s*(([01]\d|2[0-3]):([0-5]\d)|24:00)$/;

const DAY_NAMES = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sun",
  "mon",
  "tue",
  "wed",
  "thu",
  "fri",
  "sat",
  "weekdays",
  "weekends",
] as const;

/** The zod schemas of a policy file (see {@link policySchemas}). */
export type PolicySchemas = ReturnType<typeof buildSchemas>;

let built: PolicySchemas | undefined;

/**
 * The zod schemas of a policy file: `ConditionSchema` (a `when:` condition), `RuleSchema`,
 * `PolicySchema` and `PolicyFileSchema` (a whole `hexarch.yaml`; unknown top-level
 * sections are allowed and ignored). Built on first use, with zod loaded then: the first
 * policy parsed pays for them, not `import "hexarch-guardrails"`.
 */
export function policySchemas(): PolicySchemas {
  built ??= buildSchemas();
  return built;
}

/** Builds the schemas; their types are inferred from the definitions. */
function buildSchemas() {
  const { z } = loadZod();

  const stringOrList = (what: string) =>
    z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).meta({
      description: `${what}: one value or a list. Globs: \`*\` any run of characters, \`?\` one character.`,
    });

  const positiveInt = (description: string) => z.number().int().positive().meta({ description });
  const positiveAmount = (description: string) => z.number().positive().meta({ description });
  const percentage = (description: string) =>
    z
      .number()
      .gt(0)
      .lte(100)
      .meta({ description: `${description} (0 < N ≤ 100)` });

  const timeWindow = z
    .string()
    .regex(TIME_WINDOW_PATTERN)
    .meta({ description: '"HH:MM-HH:MM" (24-hour clock; may cross midnight, e.g. "22:00-06:00")' });
  const timeWindows = z.union([timeWindow, z.array(timeWindow).min(1)]);
  const day = z
    .string()
    .refine((d) => (DAY_NAMES as readonly string[]).includes(d.toLowerCase()))
    .meta({
      description: "A weekday name (monday or mon, any case), or weekdays / weekends",
      examples: ["monday", "fri", "weekends"],
    });
  const days = z.union([day, z.array(day).min(1)]);

  const operatorName = z.string().meta({
    enum: [...OPERATORS, ...Object.keys(OPERATOR_ALIASES)],
    description: "Comparison operator",
  });

  /** A `when:` condition: a comparison, a `{field: value}` shorthand, or `all` / `any` / `not`. */
  const ConditionSchema: z.ZodType = z.lazy(() =>
    z.union([
      z.strictObject({
        field: z.string().meta({ description: "Dotted context path, e.g. user.roles[0]" }),
        operator: operatorName.optional(),
        op: operatorName.optional().meta({ description: "Alias of operator" }),
        value: z
          .unknown()
          .optional()
          .meta({ description: "What the field is compared with (a list for in / between)" }),
      }),
      z.strictObject({
        all: z.array(ConditionSchema).min(1).meta({ description: "True when every condition is" }),
      }),
      z.strictObject({
        any: z.array(ConditionSchema).min(1).meta({ description: "True when one condition is" }),
      }),
      z.strictObject({ not: ConditionSchema }),
      z.record(z.string(), z.unknown()).meta({
        description: "Shorthand {field: value}: equals, or `in` when the value is a list",
      }),
    ]),
  );

  const deniedWindow = z.union([
    timeWindow,
    z.strictObject({
      days: days.optional().meta({ description: "Days of the window (default: every day)" }),
      hours: timeWindow.optional(),
    }),
    z.strictObject({
      start: z
        .string()
        .meta({ description: "ISO date-time; without an offset it is in the rule's time zone" }),
      end: z.string().meta({ description: "ISO date-time the window ends (exclusive)" }),
    }),
  ]);

  /** One rule. Every field is optional; see docs/policy-language.md for the semantics. */
  const RuleSchema = z
    .strictObject({
      id: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Name of the rule in reasons and audit records" }),
      name: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Name of the rule when it has no id" }),
      description: z.string().optional().meta({ description: "Free text for readers" }),
      message: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Reason given when the rule fires" }),
      priority: z.number().int().optional().meta({
        description: "Breaks ties between outcomes of equal severity; higher wins",
        default: 0,
      }),
      enabled: z.boolean().optional().meta({
        description:
          "With `feature`: whether the feature is on (off fires the action). Without: false disables the rule",
        default: true,
      }),
      resource: stringOrList("Matches the context's resource").optional(),
      operation: stringOrList("Matches the context's operation").optional(),
      resource_types: stringOrList(
        "Matches the context's resourceType (or resource_type)",
      ).optional(),
      feature: z.string().min(1).optional().meta({ description: "Matches the context's feature" }),
      model: stringOrList("Matches the context's model").optional(),
      allowed: z
        .boolean()
        .optional()
        .meta({ description: "With `model`: false fires the action for matching models" }),
      when: z
        .union([ConditionSchema, z.array(ConditionSchema).min(1)])
        .optional()
        .meta({ description: "Conditions on the context; a list means all of them" }),
      requests_per_second: positiveInt("Sliding-window limit per second").optional(),
      requests_per_minute: positiveInt("Sliding-window limit per minute").optional(),
      requests_per_hour: positiveInt("Sliding-window limit per hour").optional(),
      requests_per_day: positiveInt("Sliding-window limit per 24 hours").optional(),
      daily_limit: positiveInt("Same as requests_per_day").optional(),
      per: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Context field that keys the rule's counters, e.g. userId" }),
      daily_budget: positiveAmount("USD per calendar day").optional(),
      monthly_budget: positiveAmount("USD per calendar month").optional(),
      daily_budget_usd: positiveAmount("Same as daily_budget").optional(),
      monthly_budget_usd: positiveAmount("Same as monthly_budget").optional(),
      max_cost_per_call: positiveAmount(
        "USD; a call whose cost exceeds it fires the action",
      ).optional(),
      max_tokens_per_request: positiveInt(
        "A call whose tokens exceed it fires the action",
      ).optional(),
      max_tokens_per_hour: positiveInt("Tokens per calendar hour").optional(),
      max_tokens_per_day: positiveInt("Tokens per calendar day").optional(),
      max_tokens_per_month: positiveInt("Tokens per calendar month").optional(),
      alert_at_percentage: percentage("Warn from this percentage of each limit").optional(),
      warn_at_percentage: percentage("Warn from this percentage of each limit").optional(),
      allowed_hours: timeWindows
        .optional()
        .meta({ description: "Outside these hours the action fires" }),
      allowed_days: days.optional().meta({ description: "On other days the action fires" }),
      forbidden_hours: timeWindows
        .optional()
        .meta({ description: "Inside these hours the action fires" }),
      forbidden_days: days.optional().meta({ description: "On these days the action fires" }),
      denied_windows: z.array(deniedWindow).min(1).optional().meta({
        description:
          'Windows in which the action fires: "HH:MM-HH:MM", {days, hours} or {start, end}',
      }),
      timezone: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "IANA time zone; default: the policy's, else the file's, else UTC" }),
      requires: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
        .optional()
        .meta({ description: 'Context flags that must be true; "confirmation" means confirm' }),
      requires_approval: z
        .boolean()
        .optional()
        .meta({ description: "true: same as requires: [confirm]" }),
      requires_confirmation: z.boolean().optional().meta({
        description:
          "true: same as action: require_confirmation (the Python spelling); false: never asks for confirmation (with nothing else to enforce, the rule allows). An action that disagrees is an error",
      }),
      allowed_users: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
        .optional()
        .meta({
          description: "Users allowed; @role matches the context's roles, @self the resource owner",
        }),
      parameter: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Call parameter to bound with min/max/max_length/allowed_values" }),
      min: z.number().optional().meta({ description: "With `parameter`: smallest allowed value" }),
      max: z.number().optional().meta({ description: "With `parameter`: largest allowed value" }),
      max_length: z
        .number()
        .int()
        .nonnegative()
        .optional()
        .meta({ description: "With `parameter`: longest allowed string or list" }),
      allowed_values: z
        .array(z.unknown())
        .min(1)
        .optional()
        .meta({ description: "With `parameter`: the only values allowed" }),
      refund_on_error: z.boolean().optional().meta({
        description:
          "Give a budget reservation back when the guarded function throws. Default: true",
        default: true,
      }),
      action: z
        .string()
        .regex(ACTION_PATTERN)
        .optional()
        .meta({
          description: "What happens when the rule fires. Default: block",
          default: "block",
          examples: [
            "block",
            "warn",
            "allow",
            "require_confirmation",
            "warn_at_80%",
            "block_at_90%",
          ],
        }),
    })
    .meta({ title: "Rule" });

  /** One policy. */
  const PolicySchema = z
    .strictObject({
      id: z.string().min(1).meta({ description: "Policy id, as used in guardian.check(id)" }),
      name: z.string().optional().meta({ description: "Display name" }),
      description: z.string().optional().meta({ description: "Free text for readers" }),
      enabled: z
        .boolean()
        .optional()
        .meta({ description: "false: listed but not evaluated (checks allow)", default: true }),
      fail_open: z.boolean().optional().meta({
        description:
          "true: when a decision backend fails, let the call run (and record why). Default: fail closed",
        default: false,
      }),
      timezone: z.string().min(1).optional().meta({
        description:
          "IANA time zone for calendar budgets and schedules; default: the file's, else UTC",
      }),
      rules: z
        .array(RuleSchema)
        .meta({ description: "Every applying rule yields an outcome; the most severe wins" }),
    })
    .meta({ title: "Policy" });

  /** A whole `hexarch.yaml`. Unknown top-level sections are allowed and ignored. */
  const PolicyFileSchema = z
    .looseObject({
      policies: z.array(PolicySchema).meta({ description: "The policies, each with a unique id" }),
      enforcement: z.enum(["strict", "warn"]).optional().meta({
        description:
          "Default mode: strict = enforce, warn = monitor (the mode option and HEXARCH_MODE win)",
        default: "strict",
      }),
      timezone: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Default IANA time zone for every policy", default: "UTC" }),
      logging: z
        .looseObject({
          enabled: z.boolean().optional().meta({
            description: "true: append one JSON line per decision to `file`",
            default: false,
          }),
          level: z.enum(["debug", "info", "warning", "warn", "error"]).optional().meta({
            description:
              "info (and debug): every decision; warning: warned and blocked; error: blocked",
            default: "info",
          }),
          file: z
            .string()
            .optional()
            .meta({ description: "The JSON-lines file, relative to the working directory" }),
        })
        .optional()
        .meta({ description: "A decision log file, as the Python package writes it" }),
      opa: z
        .looseObject({
          url: z
            .string()
            .optional()
            .meta({ description: "OPA base URL, e.g. http://localhost:8181" }),
          timeout_seconds: z
            .number()
            .positive()
            .optional()
            .meta({ description: "Seconds to wait for OPA", default: 2 }),
        })
        .optional()
        .meta({
          description:
            "Defaults for the OPA decision client and hexarch-ctl health; does not by itself send decisions to OPA",
        }),
    })
    .meta({
      title: "hexarch.yaml",
      description: "Policies for hexarch-guardrails (TypeScript and Python)",
    });

  return { ConditionSchema, RuleSchema, PolicySchema, PolicyFileSchema };
}

/** The raw, validated shape of a rule before normalization. */
export type RawRule = z.infer<PolicySchemas["RuleSchema"]>;
/** The raw, validated shape of a policy file before normalization. */
export type RawPolicyFile = z.infer<PolicySchemas["PolicyFileSchema"]>;

/** Day names as messages suggest them: full names, weekdays, weekends. */
export const DAY_WORDS: readonly string[] = [
  ...DAY_NAMES.slice(1, 7),
  "sunday",
  "weekdays",
  "weekends",
];

/** Day name → weekday numbers (0 = Sunday). */
export function dayNumbers(name: string): number[] {
  const n = name.toLowerCase();
  if (n === "weekdays") return [1, 2, 3, 4, 5];
  if (n === "weekends") return [0, 6];
  const i = DAY_NAMES.indexOf(n as (typeof DAY_NAMES)[number]);
  return i < 0 ? [] : [i % 7];
}

/** The zod schema as JSON Schema; `json-schema.ts` adds what editors need and publishes it. */
export function policyJsonSchema(): Record<string, unknown> {
  const schema = loadZod().z.toJSONSchema(policySchemas().PolicyFileSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  });
  return {
    ...schema,
    $id: "https://unpkg.com/hexarch-guardrails/schema/hexarch.schema.json",
  };
}
