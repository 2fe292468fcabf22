/**
 * `when:` conditions in the editor schema (see `json-schema.ts`): each shape the loader
 * (`normalize-condition.ts`) accepts — a comparison, the `{field: value}` shorthand,
 * `all` / `any` / `not`, a list — described key for key, so completion offers them and
 * a mistake gets the message of the shape the author meant.
 *
 * @module
 */

import { OPERATORS, type Operator, resolveOperator } from "./conditions.ts";
import { POLICY_DOCS_URL } from "./docs-url.ts";
import {
  anyCase,
  type JsonSchema,
  OPERATOR_NAMES,
  operatorChoice,
  ref,
  slot,
} from "./json-schema-vocabulary.ts";

const comparisonSnippet = { field: "$1", operator: slot(2, "equals"), value: "$3" };

/** `if` the comparison's operator (or `op`) is one of `names`, any case. */
function operatorIs(names: readonly string[]): JsonSchema {
  const pattern = `^\\s*(?:${names.map(anyCase).join("|")})\\s*$`;
  return {
    anyOf: [
      { required: ["operator"], properties: { operator: { type: "string", pattern } } },
      { required: ["op"], properties: { op: { type: "string", pattern } } },
    ],
  };
}

/** Names of an operator and its aliases. */
const spellings = (...ops: readonly Operator[]): string[] =>
  OPERATOR_NAMES.filter((n) => {
    const canonical = resolveOperator(n);
    return canonical !== undefined && ops.includes(canonical);
  });

/** What each operator's `value` must be, as `normalize-condition.ts` checks it. */
const VALUE_RULES: readonly (readonly [string[], JsonSchema])[] = [
  [
    spellings("in", "not_in"),
    { type: "array", errorMessage: "in / not_in expect a list of values, e.g. [free, trial]" },
  ],
  [
    spellings("between"),
    {
      type: "array",
      minItems: 2,
      maxItems: 2,
      errorMessage: "between expects [low, high], two numbers or two strings",
    },
  ],
  [
    spellings("greater_than", "greater_or_equal", "less_than", "less_or_equal"),
    { type: ["number", "string"], errorMessage: "an ordering expects a number or a string" },
  ],
  [
    spellings("starts_with", "ends_with", "matches"),
    { type: "string", errorMessage: "starts_with, ends_with and matches expect a string" },
  ],
];

/** `if` the object has `key`, `then` the definition `name`, `else` the rest. */
const shape = (key: string, name: string, rest: JsonSchema): JsonSchema => ({
  if: { type: "object", required: [key] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
  then: ref(name),
  else: rest,
});

/** A comparison when any of its keys is there, else the `{field: value}` shorthand. */
const comparisonOrShorthand: JsonSchema = {
  if: {
    type: "object",
    anyOf: ["field", "operator", "op", "value"].map((key) => ({ required: [key] })),
  },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
  then: ref("Comparison"),
  else: {
    if: { type: "object" },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
    then: ref("Shorthand"),
  },
};

/** The definitions `Condition` (what `when:` takes) refers to, by name, itself included. */
export function conditionDefs(): Record<string, JsonSchema> {
  // Every operator compares against a value, but the two that test presence.
  const valueRequired = spellings(
    ...OPERATORS.filter((op) => op !== "exists" && op !== "not_exists"),
  );
  return {
    Condition: {
      title: "Condition",
      description:
        "A comparison {field, operator, value}, a {field: value} shorthand, or all / any / not",
      markdownDescription: [
        "A condition on the call's context:",
        "",
        "- `{field: user.tier, operator: in, value: [free, trial]}` (`op` is an alias of `operator`)",
        "- `{environment: production}`: shorthand for equals (a list value means `in`)",
        "- `all: [...]`, `any: [...]`, `not: {...}`",
        "",
        `A field the context lacks fails every operator but \`not_exists\`. [Conditions](${POLICY_DOCS_URL}#conditions-when)`,
      ].join("\n"),
      // A list is all of its conditions, wherever a condition goes (as the loader reads it).
      type: ["object", "array"],
      errorMessage:
        "expected a condition: {field, operator, value}, {field: value}, all / any / not, or a list of conditions",
      // Every key a condition may start with, for completion; they constrain nothing here.
      properties: {
        field: { description: "Dotted context path to compare, e.g. user.tier" },
        operator: { description: "Comparison operator, e.g. equals, in, greater_than" },
        op: { description: "Alias of operator" },
        value: { description: "What the field is compared with" },
        all: { description: "A list of conditions that must all hold" },
        any: { description: "A list of conditions of which one must hold" },
        not: { description: "A condition that must not hold" },
      },
      // Which shape an object is, decided as normalize-condition.ts decides it, so the
      // messages come from the shape the author meant (an anyOf would pick a "best" one).
      if: { type: "array" },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
      then: { minItems: 1, items: ref("Condition") },
      else: shape(
        "all",
        "AllOf",
        shape("any", "AnyOf", shape("not", "Not", comparisonOrShorthand)),
      ),
      defaultSnippets: [
        {
          label: "field / operator / value",
          description: "compare a context field",
          body: comparisonSnippet,
        },
        { label: "all", description: "every condition holds", body: { all: [comparisonSnippet] } },
        { label: "any", description: "one condition holds", body: { any: [comparisonSnippet] } },
        {
          label: "not",
          description: "the condition does not hold",
          body: { not: comparisonSnippet },
        },
      ],
    },
    Comparison: {
      title: "comparison",
      type: "object",
      description: "Compares a context field with a value",
      properties: {
        field: {
          type: "string",
          minLength: 1,
          description: "Dotted context path, e.g. user.roles[0]",
          examples: ["userId", "user.tier", "amount", "environment"],
          errorMessage: "field: the dotted context path to compare, e.g. user.tier",
        },
        operator: operatorChoice("Comparison operator"),
        op: operatorChoice("Alias of operator"),
        value: {
          description:
            "What the field is compared with: a list for in / not_in, [low, high] for between, none for exists / not_exists",
        },
      },
      required: ["field"],
      additionalProperties: false,
      allOf: [
        {
          anyOf: ["operator", "op"].map((key) => ({
            required: [key],
            errorMessage: "a comparison needs operator (or op), e.g. operator: equals",
          })),
        },
        ...VALUE_RULES.map(([names, value]) => ({
          if: operatorIs(names),
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
          then: { properties: { value } },
        })),
        {
          if: operatorIs(valueRequired),
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
          then: {
            required: ["value"],
            errorMessage: "this operator compares with a value: add value",
          },
        },
      ],
    },
    AllOf: {
      title: "all",
      type: "object",
      properties: {
        all: {
          type: "array",
          minItems: 1,
          items: ref("Condition"),
          description: "True when every condition is",
        },
      },
      required: ["all"],
      additionalProperties: false,
    },
    AnyOf: {
      title: "any",
      type: "object",
      properties: {
        any: {
          type: "array",
          minItems: 1,
          items: ref("Condition"),
          description: "True when one condition is",
        },
      },
      required: ["any"],
      additionalProperties: false,
    },
    Not: {
      title: "not",
      type: "object",
      properties: {
        not: { ...ref("Condition"), description: "True when the condition does not hold" },
      },
      required: ["not"],
      additionalProperties: false,
    },
    Shorthand: {
      title: "shorthand {field: value}",
      type: "object",
      description: "Shorthand {field: value}: equals, or in when the value is a list",
      minProperties: 1,
      errorMessage:
        "empty condition: write {field, operator, value}, {field: value}, or all / any / not",
      additionalProperties: { description: "The value the field must equal (a list: one of)" },
    },
  };
}
