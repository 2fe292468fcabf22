/**
 * The vocabulary of the editor schema (see `json-schema.ts`): fixed value sets (actions,
 * operators, days) as `enum` with a description per value, accepted in the spellings the
 * loader accepts, with a human message for anything else.
 *
 * @module
 */

import { OPERATOR_ALIASES, OPERATORS, type Operator } from "./conditions.ts";
import { DAY_WORDS } from "./schema.ts";

/** A JSON Schema node, as plain data. */
export type JsonSchema = { [key: string]: unknown };

/** `[aA][bB]…`: a pattern matching `word` in any case (JSON Schema patterns take no flags). */
export function anyCase(word: string): string {
  return [...word]
    .map((ch) => {
      const lower = ch.toLowerCase();
      const upper = ch.toUpperCase();
      if (lower !== upper) return `[${lower}${upper}]`;
      // Escape only what a pattern reads as syntax: `\>` or `\=` are invalid escapes in a
      // Unicode-mode pattern (Ajv's default).
      return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
    })
    .join("");
}

/**
 * One value of a fixed set, completed from `enum` (with a description per value) and
 * accepted in any case (and, for operators, with surrounding spaces) as the loader accepts
 * it. Anything else gets `message`.
 */
function choice(
  values: readonly string[],
  descriptions: readonly string[],
  message: string,
  options: { readonly trim?: boolean } = {},
): JsonSchema {
  const space = options.trim ? "\\s*" : "";
  const pattern = `^${space}(?:${values.map(anyCase).join("|")})${space}$`;
  return {
    type: "string",
    errorMessage: message,
    anyOf: [
      { enum: [...values], enumDescriptions: [...descriptions], errorMessage: message },
      { pattern, patternErrorMessage: message },
    ],
  };
}

const OPERATOR_DOCS: Readonly<Record<Operator, string>> = {
  equals: "the field equals the value (deep equality for lists and maps)",
  not_equals: "the field does not equal the value",
  in: "the field is one of the listed values",
  not_in: "the field is none of the listed values",
  contains: "a string field contains the substring; a list field contains the value",
  not_contains: "the field does not contain the value",
  starts_with: "a string field starts with the value",
  ends_with: "a string field ends with the value",
  matches: "a string field matches the regular expression (RE2 syntax, anywhere)",
  between: "the field is within [low, high], inclusive",
  greater_than: "the field is greater than the value",
  greater_or_equal: "the field is greater than or equal to the value",
  less_than: "the field is less than the value",
  less_or_equal: "the field is less than or equal to the value",
  exists: "the field is present and not null (no value)",
  not_exists: "the field is missing or null (no value)",
};

/** Every operator name the loader accepts: canonical names, then aliases. */
export const OPERATOR_NAMES: readonly string[] = [...OPERATORS, ...Object.keys(OPERATOR_ALIASES)];

/** An operator (`operator:` or `op:`), completed with a description of each. */
export const operatorChoice = (description: string): JsonSchema => ({
  description,
  markdownDescription: `${description}: ${OPERATORS.map((o) => `\`${o}\``).join(", ")}; aliases ${Object.keys(
    OPERATOR_ALIASES,
  )
    .map((a) => `\`${a}\``)
    .join(", ")}.`,
  ...choice(
    OPERATOR_NAMES,
    OPERATOR_NAMES.map((name) => {
      const canonical = (OPERATOR_ALIASES[name] ?? name) as Operator;
      return name === canonical ? OPERATOR_DOCS[canonical] : `alias of ${canonical}`;
    }),
    `unknown operator: use one of ${OPERATORS.join(", ")} (or an alias such as gt, gte, lt, lte, regex)`,
    { trim: true },
  ),
});

const SHORT_DAYS = DAY_WORDS.filter((d) => d.endsWith("day")).map((d) => d.slice(0, 3));
const DAY_VALUES: readonly string[] = [...DAY_WORDS, ...SHORT_DAYS];
const DAY_MESSAGE =
  "expected a day: monday … sunday (or mon … sun, any case), weekdays or weekends";

const day = (): JsonSchema => ({
  description: "A weekday name (monday or mon, any case), or weekdays / weekends",
  ...choice(
    DAY_VALUES,
    DAY_VALUES.map((d) =>
      d === "weekdays" ? "monday to friday" : d === "weekends" ? "saturday and sunday" : d,
    ),
    DAY_MESSAGE,
  ),
});

/** One day or a list of days (`type` takes both, so a wrong type gets this message). */
export const dayOrDays = (description: string): JsonSchema => {
  const { description: _one, ...oneDay } = day();
  return {
    description,
    ...oneDay,
    type: ["string", "array"],
    errorMessage: `${DAY_MESSAGE}, or a list of them`,
    minItems: 1,
    items: day(),
  };
};

const ACTIONS: readonly (readonly [string, string])[] = [
  ["block", "refuse the call (PolicyViolation)"],
  ["warn", "let the call run, with a warning (onWarn)"],
  ["require_confirmation", "refuse until confirmed: context.confirm: true or a confirmation token"],
  ["allow", "an explicit allow outcome"],
  ["deny", "same as block"],
  ["require_approval", "same as require_confirmation"],
];
const ACTION_MESSAGE =
  "unknown action: use block, warn, require_confirmation, allow (deny, require_approval), or warn_at_N% / block_at_N% such as warn_at_80%";

/** The rule key `action`, from the zod schema's node for it (its description and default). */
export function actionChoice(base: JsonSchema): JsonSchema {
  const { pattern: _pattern, type: _type, examples: _examples, ...rest } = base;
  return {
    ...rest,
    markdownDescription: [
      "What happens when the rule fires. Default: `block`.",
      "",
      ...ACTIONS.map(([a, d]) => `- \`${a}\`: ${d}`),
      "- `warn_at_N%`: on a rule with a quantity limit, warn from N% of it and block past it",
      "- `block_at_N%`: N% of each quantity limit is the limit",
    ].join("\n"),
    type: "string",
    errorMessage: ACTION_MESSAGE,
    anyOf: [
      {
        enum: ACTIONS.map(([a]) => a),
        enumDescriptions: ACTIONS.map(([, d]) => d),
        errorMessage: ACTION_MESSAGE,
      },
      {
        pattern: "^(warn|block)_at_(\\d{1,3}(\\.\\d+)?)%$",
        patternErrorMessage: ACTION_MESSAGE,
        examples: ["warn_at_80%", "block_at_90%"],
      },
    ],
  };
}

/** A reference to a definition in `$defs`. */
export const ref = (name: string): JsonSchema => ({ $ref: `#/$defs/${name}` });

/** A snippet tab stop with a default text: `${n:text}`. */
export const slot = (n: number, text: string): string => ["$", "{", n, ":", text, "}"].join("");
