/**
 * Building blocks every route group's schemas share: names, free-form objects, page
 * limits and the error answer.
 *
 * @module
 */

/** Policy ids, user ids and similar names in paths and bodies. */
export const name = (maxLength = 256) => ({ type: "string", minLength: 1, maxLength }) as const;

/** A JSON object of any keys (contexts, metadata). */
export const anyObject = { type: "object", additionalProperties: true } as const;

/** The body of every error answer. */
export const errorSchema = {
  type: "object",
  required: ["statusCode", "error", "code", "message", "requestId"],
  properties: {
    statusCode: { type: "integer", description: "the HTTP status, repeated" },
    error: { type: "string", description: "the status's name, e.g. `Not Found`" },
    code: {
      type: "string",
      description: "a stable, machine-readable cause, e.g. `unknown_policy`, `invalid_body`",
    },
    message: { type: "string", description: "what went wrong, for a person" },
    requestId: { type: "string", description: "the request's id (also in `X-Request-Id`)" },
    field: {
      type: "string",
      description: "for a validation error: the offending field, e.g. `body.context`",
    },
    knownPolicies: {
      type: "array",
      items: { type: "string" },
      description: "for `unknown_policy`: the ids the server has",
    },
    status: { type: "string", description: "for `not_pending`: where the request stands" },
    ruleIds: {
      type: "array",
      items: { type: "string" },
      description: "for `unknown_rules`: the rule ids that do not exist",
    },
    requiredScope: {
      type: "string",
      description: "for `insufficient_scope`: the scope the route needs",
    },
  },
} as const;

/** Error answers, for a route's `response` map. */
export const errors = { "4xx": errorSchema, "5xx": errorSchema } as const;

/** A page size: an integer from 1 to `max`, `dflt` when the query leaves it out. */
export const limit = (max: number, dflt: number) =>
  ({ type: "integer", minimum: 1, maximum: max, default: dflt }) as const;
