/**
 * Schemas of the API-defined rules and policies: `/rules` and `/policies`.
 *
 * @module
 */

import { anyObject, errors, name } from "./common.ts";

// ---- API-defined rules and policies (Python field names on the wire) ----

/** The body of `POST /rules`, `PUT /rules/:id` and (every field optional) `PATCH /rules/:id`. */
export interface RuleBody {
  readonly name?: string;
  readonly description?: string | null;
  readonly rule_type?: string;
  readonly priority?: number;
  readonly enabled?: boolean;
  readonly condition?: Readonly<Record<string, unknown>>;
}

/** The body of `POST /policies`, `PUT /policies/:id` and `PATCH /policies/:id`. */
export interface PolicyBody {
  readonly name?: string;
  readonly description?: string | null;
  readonly scope?: string;
  readonly scope_value?: string | null;
  readonly failure_mode?: string;
  readonly enabled?: boolean;
  readonly rule_ids?: readonly string[];
}

const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: name() },
} as const;

const ruleProperties = {
  name: name(),
  description: { type: ["string", "null"], maxLength: 4000 },
  rule_type: {
    ...name(64),
    description: "CONDITION, PERMISSION, CONSTRAINT or COMPOSITE (not used in evaluation)",
  },
  priority: {
    type: "integer",
    minimum: -1_000_000,
    maximum: 1_000_000,
    description: "lower runs first",
  },
  enabled: { type: "boolean" },
  condition: {
    ...anyObject,
    description:
      "a `when:` condition: {field, operator (or op), value}, all/any/not; `matches` patterns use RE2 syntax (linear time; no backreferences or lookaround) and one RE2 cannot run is refused with 422 invalid_condition",
  },
} as const;

const ruleOut = {
  type: "object",
  required: [
    "id",
    "name",
    "description",
    "rule_type",
    "priority",
    "enabled",
    "condition",
    "created_at",
    "updated_at",
  ],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    description: { type: ["string", "null"] },
    rule_type: { type: "string" },
    priority: { type: "integer" },
    enabled: { type: "boolean" },
    condition: anyObject,
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
  },
} as const;

const ruleWrite = (summary: string, required: readonly string[]) =>
  ({
    summary,
    body: {
      type: "object",
      required,
      additionalProperties: false,
      properties: ruleProperties,
    },
    response: { 200: ruleOut, ...errors },
  }) as const;

/** `POST /rules`. */
export const ruleCreateSchema = ruleWrite("Create a rule", ["name", "rule_type", "condition"]);
/** `PUT /rules/:id`: every field replaced. */
export const ruleReplaceSchema = {
  ...ruleWrite("Replace a rule", ["name", "rule_type", "condition"]),
  params: idParams,
} as const;
/** `PATCH /rules/:id`: the fields given. */
export const rulePatchSchema = { ...ruleWrite("Change a rule", []), params: idParams } as const;
/** `GET /rules`. */
export const ruleListSchema = {
  summary: "Every API-defined rule, by priority",
  response: { 200: { type: "array", items: ruleOut }, ...errors },
} as const;
/** `GET /rules/:id`. */
export const ruleGetSchema = {
  summary: "One rule",
  params: idParams,
  response: { 200: ruleOut, ...errors },
} as const;
/** `DELETE /rules/:id`. */
export const ruleDeleteSchema = {
  summary: "Delete a rule (policies naming it then fail to evaluate it)",
  params: idParams,
  response: { 204: { type: "null" }, ...errors },
} as const;

const policyProperties = {
  name: name(),
  description: { type: ["string", "null"], maxLength: 4000 },
  scope: { type: "string", maxLength: 64, description: "GLOBAL, ORGANIZATION, TEAM or USER" },
  scope_value: {
    type: ["string", "null"],
    maxLength: 256,
    description: "the organization, team or user id the scope names",
  },
  failure_mode: { type: "string", maxLength: 64, description: "FAIL_CLOSED or FAIL_OPEN" },
  enabled: { type: "boolean" },
  rule_ids: { type: "array", maxItems: 1000, items: name() },
} as const;

/** A policy as `/policies` shows it: API-defined ones in full, YAML ones read-only. */
const policyOut = {
  type: "object",
  required: ["id", "name", "source", "readOnly", "enabled"],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    description: { type: ["string", "null"] },
    scope: { type: "string" },
    scope_value: { type: ["string", "null"] },
    failure_mode: { type: "string" },
    enabled: { type: "boolean" },
    rule_ids: { type: "array", items: { type: "string" } },
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
    source: { type: "string", enum: ["api", "yaml"] },
    readOnly: { type: "boolean" },
    rules: { type: "integer", description: "YAML policies: how many rules" },
    yaml: {
      type: "string",
      description:
        "YAML policies: the policy's entry of the policy file as written (a `- id: …` list item, dedented)",
    },
  },
} as const;

const policyWrite = (summary: string, required: readonly string[]) =>
  ({
    summary,
    body: {
      type: "object",
      required,
      additionalProperties: false,
      properties: policyProperties,
    },
    response: { 200: policyOut, ...errors },
  }) as const;

/** `POST /policies`. */
export const policyCreateSchema = policyWrite("Create a policy", ["name"]);
/** `PUT /policies/:id`: every field replaced (omitted ones take their defaults). */
export const policyReplaceSchema = {
  ...policyWrite("Replace a policy", ["name"]),
  params: idParams,
} as const;
/** `PATCH /policies/:id`: the fields given. */
export const policyPatchSchema = {
  ...policyWrite("Change a policy", []),
  params: idParams,
} as const;
/** `GET /policies`. */
export const policyListSchema = {
  summary: "The YAML policies (read-only) and the API-defined ones",
  response: { 200: { type: "array", items: policyOut }, ...errors },
} as const;
/** `GET /policies/:id`. */
export const policyGetSchema = {
  summary: "One policy",
  params: idParams,
  response: { 200: policyOut, ...errors },
} as const;
/** `DELETE /policies/:id`. */
export const policyDeleteSchema = {
  summary: "Delete an API-defined policy",
  params: idParams,
  response: { 204: { type: "null" }, ...errors },
} as const;
/** `POST /policies/reload`. */
export const policyReloadSchema = {
  summary: "Re-read the policy file the server was started with",
  response: {
    200: {
      type: "object",
      required: ["reloaded", "policies"],
      properties: {
        reloaded: { type: "boolean" },
        policies: { type: "array", items: { type: "string" } },
      },
    },
    ...errors,
  },
} as const;
