/**
 * The JSON Schema editors use for `hexarch.yaml` (`schema/hexarch.schema.json`, written by
 * `npm run schema`): the zod schema's structure, descriptions and defaults, plus what an
 * editor needs and zod cannot say:
 *
 * - `when:` conditions described shape by shape (comparison, `{field: value}` shorthand,
 *   `all` / `any` / `not`), so completion offers `field` / `operator` / `value` and the
 *   combinators, and a wrong operator is flagged. The loader (`normalize-condition.ts`)
 *   checks conditions itself, so the zod schema accepts any condition object; here the
 *   shapes follow that loader, key for key.
 * - Fixed value sets (actions, operators, days) as `enum` with a description per value.
 *   The loader reads operators and days in any case, so each also accepts its
 *   case-insensitive spelling: an editor never flags a file the loader accepts.
 * - Human messages (`errorMessage`, `patternErrorMessage`, a yaml-language-server and VS
 *   Code extension) instead of "does not match the pattern ^(…)$"; generation fails on a
 *   pattern without one, so a raw regular expression cannot reach a user.
 * - Snippets (`defaultSnippets`) for a policy, the common rules and conditions.
 *
 * The value sets live in `json-schema-vocabulary.ts`, the condition shapes in
 * `json-schema-conditions.ts`; this module adds the messages and assembles the file.
 *
 * Only the published file and the tests use this module; the loader never does.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import { POLICY_DOCS_URL } from "./docs-url.ts";
import { conditionDefs } from "./json-schema-conditions.ts";
import { actionChoice, dayOrDays, type JsonSchema, ref, slot } from "./json-schema-vocabulary.ts";
import { policyJsonSchema, TIME_WINDOW_PATTERN } from "./schema.ts";

export type { JsonSchema } from "./json-schema-vocabulary.ts";

// ---------------------------------------------------------------- messages

/**
 * The generator's assumptions about the zod schema no longer hold (a build-time check:
 * `npm run schema` fails with it, never a user).
 */
const drift = (message: string): GuardrailError =>
  new GuardrailError(message, { code: "schema_generator_drift" });

/** Messages for the patterns the zod schema uses, by pattern source. */
const PATTERN_MESSAGES: ReadonlyMap<string, string> = new Map([
  [
    TIME_WINDOW_PATTERN.source,
    'expected a time window "HH:MM-HH:MM" on a 24-hour clock, e.g. "09:00-17:00" (it may cross midnight: "22:00-06:00")',
  ],
]);

/** What a leaf of this type expects, in words. */
function expected(node: JsonSchema): string | undefined {
  const min =
    node.exclusiveMinimum === 0 ? " greater than 0" : node.minimum === 0 ? ", 0 or more" : "";
  // zod gives integers a maximum of 2^53 - 1, not worth a word.
  const max =
    typeof node.maximum === "number" && node.maximum < Number.MAX_SAFE_INTEGER
      ? ` and at most ${node.maximum}`
      : "";
  switch (node.type) {
    case "integer":
      return `a whole number${min}${max}`;
    case "number":
      return `a number${min}${max}`;
    case "boolean":
      return "true or false";
    case "string":
      return node.enum ? undefined : "text";
    case "array":
      return "a list";
    default:
      return undefined;
  }
}

/**
 * Gives every scalar or list property a message naming the key and what it takes (a
 * type mismatch otherwise reads `Incorrect type. Expected "integer"`). Objects keep the
 * server's own messages, which name an unknown key.
 */
function addMessages(node: unknown, key?: string): void {
  if (Array.isArray(node)) {
    for (const item of node) addMessages(item, key);
    return;
  }
  if (node === null || typeof node !== "object") return;
  const schema = node as JsonSchema;
  // A string-or-list key (zod: a union) becomes one node of `type: [string, array]`, which
  // means the same: yaml-language-server merges the type errors of union members into
  // "Expected string | array" whatever their messages say.
  if (key && Array.isArray(schema.anyOf) && schema.anyOf.length === 2) {
    const [one, many] = schema.anyOf as JsonSchema[];
    if (one?.type === "string" && many?.type === "array" && one.anyOf === undefined) {
      const item = { ...(many.items as JsonSchema) };
      const noun = item.pattern ? "time windows" : "strings";
      const { type: _string, description: _one, ...string } = one;
      const { type: _array, items: _items, ...array } = many;
      delete schema.anyOf;
      Object.assign(schema, string, array, {
        type: ["string", "array"],
        items: item,
        errorMessage: `${key}: expected a string or a list of ${noun}`,
      });
      if (!item.pattern) item.errorMessage = `${key}: expected a list of strings`;
    }
  }
  if (typeof schema.pattern === "string" && schema.patternErrorMessage === undefined) {
    const message = PATTERN_MESSAGES.get(schema.pattern);
    if (!message) throw drift(`no message for the pattern ${schema.pattern}: add one`);
    schema.patternErrorMessage = key ? `${key}: ${message}` : message;
    if (schema.type === "string") schema.errorMessage ??= schema.patternErrorMessage;
  }
  const what = expected(schema);
  if (key && what && schema.errorMessage === undefined) {
    schema.errorMessage = `${key}: expected ${what}`;
  }
  for (const [k, v] of Object.entries(schema)) {
    if (k === "properties" && v && typeof v === "object") {
      for (const [name, sub] of Object.entries(v as JsonSchema)) addMessages(sub, name);
    } else if (k === "anyOf" || k === "items") {
      addMessages(v, key);
    } else if (k === "$defs" && v && typeof v === "object") {
      for (const sub of Object.values(v as JsonSchema)) addMessages(sub);
    }
  }
}

// ---------------------------------------------------------------- snippets

const POLICY_SNIPPETS = [
  {
    label: "policy",
    description: "a policy with one rule",
    body: {
      id: "$1",
      description: "$2",
      rules: [{ resource: slot(3, "*"), action: slot(4, "block") }],
    },
  },
];

const RULE_SNIPPETS = [
  {
    label: "rate limit",
    description: "N calls a minute per user",
    body: { resource: slot(1, "*"), requests_per_minute: 100, per: "userId", action: "block" },
  },
  {
    label: "monthly budget",
    description: "warn at 80%, block past the budget",
    body: { resource: slot(1, "openai"), monthly_budget: 10, action: "warn_at_80%" },
  },
  {
    label: "require confirmation",
    description: "destructive operations need context.confirm: true or a token",
    body: { operation: slot(1, "delete"), action: "require_confirmation" },
  },
  {
    label: "business hours",
    description: "only on weekdays, 09:00-17:00",
    body: {
      operation: slot(1, "deploy"),
      allowed_hours: "09:00-17:00",
      allowed_days: "weekdays",
      timezone: slot(2, "UTC"),
    },
  },
];

// ---------------------------------------------------------------- assembly

/** The node at `path`; generation fails when the zod schema no longer has it. */
function at(root: JsonSchema, ...path: (string | number)[]): JsonSchema {
  let node: unknown = root;
  for (const step of path) {
    node = (node as Record<string | number, unknown> | undefined)?.[step];
    if (node === undefined || node === null || typeof node !== "object") {
      throw drift(`the generated schema has no ${path.join(".")}; update json-schema.ts`);
    }
  }
  return node as JsonSchema;
}

function refsTo(node: unknown, target: string): boolean {
  if (Array.isArray(node)) return node.some((n) => refsTo(n, target));
  if (node === null || typeof node !== "object") return false;
  return Object.entries(node).some(([k, v]) => (k === "$ref" && v === target) || refsTo(v, target));
}

/** The JSON Schema of `hexarch.yaml` for editors. */
export function editorJsonSchema(): JsonSchema {
  const schema = structuredClone(policyJsonSchema()) as JsonSchema;
  const policy = at(schema, "properties", "policies", "items");
  const rule = at(policy, "properties", "rules", "items");
  const rules = at(rule, "properties");

  // when: the condition shapes the loader accepts, instead of zod's catch-all.
  const when = at(rules, "when");
  const zodCondition = at(when, "anyOf", 0).$ref;
  rules.when = {
    ...ref("Condition"),
    description: when.description,
    markdownDescription: `Conditions on the call's context; a list means all of them. [Conditions](${POLICY_DOCS_URL}#conditions-when)`,
  };
  const defs = (schema.$defs ?? {}) as Record<string, JsonSchema>;
  if (typeof zodCondition === "string" && zodCondition.startsWith("#/$defs/")) {
    const name = zodCondition.slice("#/$defs/".length);
    delete defs[name];
    if (refsTo(schema, zodCondition)) throw drift(`${zodCondition} is still referenced`);
  }
  schema.$defs = { ...defs, ...conditionDefs() };

  rules.action = actionChoice(at(rules, "action"));
  if (at(rules, "action").default !== "block") throw drift("action's default moved");
  for (const key of ["allowed_days", "forbidden_days"]) {
    rules[key] = dayOrDays(String(at(rules, key).description));
  }
  const windowObject = at(rules, "denied_windows", "items", "anyOf", 1, "properties");
  windowObject.days = dayOrDays(String(at(windowObject, "days").description));

  for (const [key, examples] of [
    ["timezone", ["UTC", "Europe/Berlin", "America/New_York"]],
    ["per", ["userId", "tenant.id"]],
    ["requires", ["confirm", "backup_verified"]],
    ["resource", ["*", "openai", "anthropic"]],
    ["operation", ["delete", "deploy"]],
  ] as const) {
    at(rules, key).examples = [...examples];
  }

  policy.defaultSnippets = POLICY_SNIPPETS;
  rule.defaultSnippets = RULE_SNIPPETS;
  schema.markdownDescription = `Policies for hexarch-guardrails (TypeScript and Python). [The policy language](${POLICY_DOCS_URL})`;

  addMessages(schema);
  return schema;
}

/** The schema as the text checked in at `schema/hexarch.schema.json`. */
export function policyJsonSchemaText(): string {
  return `${JSON.stringify(editorJsonSchema(), null, 2)}\n`;
}
