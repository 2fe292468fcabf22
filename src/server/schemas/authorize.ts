/**
 * Schemas of `POST /authorize`.
 *
 * @module
 */

import { anyObject, errors, name } from "./common.ts";

/**
 * The body of `POST /authorize`: the native shape (`policyId`, `context`) decides one YAML
 * policy; without `policyId` it is the Python shape (`action`, `resource`, `context`),
 * decided by the API-defined policies.
 */
export interface AuthorizeBody {
  readonly policyId?: string;
  /** Python shape: what the caller wants to do. @default "request" */
  readonly action?: string;
  /** Python shape: what it wants to do it to. */
  readonly resource?: Readonly<Record<string, unknown>>;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** What `POST /authorize` answers, for an allow and a deny alike. */
export interface AuthorizeReply {
  readonly allowed: boolean;
  /** `ALLOW` for allow and warn, `DENY` for block and require_confirmation. */
  readonly decision: "ALLOW" | "DENY";
  readonly action: "allow" | "warn" | "block" | "require_confirmation";
  readonly reason: string;
  readonly policies: readonly string[];
  readonly decisionId: string;
  readonly matchedRules: readonly string[];
  readonly timestamp: string;
}

/** `POST /authorize`: a decision exactly as `guardian.evaluate` gives it, recorded. */
export const authorizeSchema = {
  summary: "Decide whether a call may run (consumes quota like a guarded call)",
  body: {
    type: "object",
    additionalProperties: false,
    properties: {
      policyId: {
        ...name(),
        description: "the YAML policy to decide; without it the API-defined policies decide",
      },
      action: {
        ...name(),
        description: "Python shape: the action asked for (default `request`)",
      },
      resource: { ...anyObject, description: "Python shape: what the action is on" },
      context: { ...anyObject, description: "the call's context, as for guardian.evaluate" },
    },
  },
  response: {
    200: {
      type: "object",
      required: [
        "allowed",
        "decision",
        "action",
        "reason",
        "policies",
        "decisionId",
        "matchedRules",
        "timestamp",
      ],
      properties: {
        allowed: { type: "boolean" },
        decision: { type: "string", enum: ["ALLOW", "DENY"] },
        action: { type: "string", enum: ["allow", "warn", "block", "require_confirmation"] },
        reason: { type: "string" },
        policies: { type: "array", items: { type: "string" } },
        decisionId: { type: "string" },
        matchedRules: { type: "array", items: { type: "string" } },
        timestamp: { type: "string", format: "date-time" },
      },
    },
    ...errors,
  },
} as const;
