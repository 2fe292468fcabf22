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
  /**
   * A dry run: the same answer, with no effect: no audit record, no rate-limit or budget
   * counter moved, no confirmation request created, a confirmation token checked but not
   * used. @default false
   */
  readonly dry_run?: boolean;
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
  /**
   * On a `require_confirmation` answer to a call without a token: the token of the pending
   * request made for it (also in the `X-Confirmation-Token` answer header). Have another
   * principal approve it (`POST /approvals/{token}/approve`), then send the same call with
   * it in `context.confirmationToken` or the `X-Confirmation-Token` header: it is allowed
   * once. It is a secret: the server never logs it.
   */
  readonly confirmationToken?: string;
  /** When {@link confirmationToken} stops working (ISO 8601 UTC). */
  readonly expiresAt?: string;
  /** Context fields removed before deciding (`context.confirm` from a caller that may not self-confirm). */
  readonly ignored?: readonly string[];
  /** What the server did with the confirmation fields, and why, for a person reading. */
  readonly notes?: readonly string[];
  /** Present (true) on the answer to a dry run (`dry_run: true`): nothing was recorded or consumed. */
  readonly dryRun?: true;
}

/** `POST /authorize`: a decision exactly as `guardian.evaluate` gives it, recorded (unless a dry run). */
export const authorizeSchema = {
  summary:
    "Decide whether a call may run (consumes quota like a guarded call, unless dry_run is set)",
  headers: {
    type: "object",
    properties: {
      "x-confirmation-token": {
        type: "string",
        maxLength: 4096,
        description:
          "an approved confirmation token for this call (instead of context.confirmationToken); a secret, never logged",
      },
    },
  },
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
      context: {
        ...anyObject,
        description:
          "the call's context, as for guardian.evaluate; `confirmationToken` carries an approved token; `confirm: true` counts only for callers that may self-confirm",
      },
      dry_run: {
        type: "boolean",
        description:
          "a dry run: the same decision, answered with `dryRun: true`, and no effect: no audit record, no rate-limit or budget counter moved, no confirmation request created (a require_confirmation answer carries no token), and a confirmation token sent is checked but not used",
      },
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
        confirmationToken: {
          type: "string",
          description:
            "require_confirmation without a token: the pending request's token (also in X-Confirmation-Token); get it approved by another principal, then send the same call with it",
        },
        expiresAt: { type: "string", format: "date-time" },
        ignored: {
          type: "array",
          items: { type: "string" },
          description:
            "context fields removed before deciding (context.confirm from a caller without self-confirm)",
        },
        notes: { type: "array", items: { type: "string" } },
        dryRun: {
          type: "boolean",
          description:
            "true on the answer to a dry run: nothing was recorded, consumed or requested",
        },
      },
    },
    ...errors,
  },
} as const;
