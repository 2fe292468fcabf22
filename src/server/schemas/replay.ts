/**
 * Schema of `POST /audit-logs/replay`: a proposed policy file in, the replay report out.
 *
 * @module
 */

import { errors } from "./common.ts";

/** The body of `POST /audit-logs/replay`. */
export interface AuditReplayBody {
  readonly policy_file: string;
  readonly since?: string;
  readonly until?: string;
  readonly examples?: number;
}

const flipSchema = {
  type: "object",
  required: ["decisionId", "timestamp", "policyId", "before", "after", "action", "reason"],
  properties: {
    decisionId: { type: "string" },
    timestamp: { type: "string", format: "date-time" },
    policyId: { type: "string" },
    functionName: { type: ["string", "null"] },
    userId: { type: ["string", "null"] },
    before: { type: "string", enum: ["allowed", "warned", "blocked"] },
    after: { type: "string", enum: ["allowed", "warned", "blocked"] },
    action: { type: "string" },
    ruleId: { type: "string" },
    reason: { type: "string" },
  },
} as const;

/** `POST /audit-logs/replay`: the audit log's decisions of a period, re-decided by a proposed file. */
export const auditReplaySchema = {
  summary: "Replay the audit log's recorded decisions through a proposed policy file",
  description:
    "Re-decides the recorded decisions of a period, oldest first, at their recorded times with fresh counters, and reports what would flip per policy and rule (as `hexarch-ctl policy replay`). Needs the `admin` scope.",
  body: {
    type: "object",
    required: ["policy_file"],
    additionalProperties: false,
    properties: {
      policy_file: {
        type: "string",
        minLength: 1,
        description: "the proposed policy file's text (YAML or JSON)",
      },
      since: {
        type: "string",
        maxLength: 64,
        description: "from: an ISO date or time, or a duration back from now (`7d`)",
      },
      until: { type: "string", maxLength: 64, description: "to (default: now)" },
      examples: { type: "integer", minimum: 0, maximum: 50, default: 5 },
    },
  },
  response: {
    200: {
      type: "object",
      required: [
        "until",
        "replayed",
        "skipped",
        "toBlocked",
        "toAllowed",
        "warnChanged",
        "policies",
      ],
      properties: {
        since: { type: "string" },
        until: { type: "string" },
        replayed: { type: "integer" },
        skipped: {
          type: "object",
          properties: { notDecisions: { type: "integer" }, unknownPolicy: { type: "integer" } },
        },
        toBlocked: { type: "integer" },
        toAllowed: { type: "integer" },
        warnChanged: { type: "integer" },
        policies: {
          type: "array",
          items: {
            type: "object",
            properties: {
              policyId: { type: "string" },
              replayed: { type: "integer" },
              unchanged: { type: "integer" },
              toBlocked: { type: "integer" },
              toAllowed: { type: "integer" },
              warnChanged: { type: "integer" },
              byRule: { type: "object", additionalProperties: { type: "integer" } },
              examples: { type: "array", items: flipSchema },
            },
          },
        },
      },
    },
    ...errors,
  },
} as const;
