/**
 * What the routes share: the Guardian, the audit log, the confirmation store and settings.
 *
 * @module
 */

import type { CheckpointSigner } from "../../audit/checkpoints/signing.ts";
import type { AuditCheckpointStore } from "../../audit/checkpoints/types.ts";
import type { DecisionLogger } from "../../audit/decision-logger.ts";
import type { ConfirmationStore } from "../../confirm/types.ts";
import type { ApiPolicyDecisions } from "../../decision/api-policy-decisions.ts";
import type { Guardian } from "../../guardian/guardian.ts";
import { HttpError } from "../errors.ts";
import type { ServerMetrics } from "../metrics.ts";
import type { StateBackend } from "../options.ts";

/** The server's parts, as the routes see them. */
export interface ServerContext {
  /** Replaced by `POST /policies/reload`. */
  guardian: Guardian;
  readonly auditLogger: DecisionLogger | undefined;
  /** Approvals and denials through it are recorded in the audit log. */
  readonly confirmations: ConfirmationStore | undefined;
  readonly version: string;
  readonly state: StateBackend;
  readonly healthTimeoutMs: number;
  readonly metrics: ServerMetrics;
  /** The API-defined policies' store, deciding with them (writes through it take effect at once). */
  readonly apiPolicies: ApiPolicyDecisions | undefined;
  readonly reloadPolicies: (() => Guardian | Promise<Guardian>) | undefined;
  /**
   * Signs checkpoints (and keeps them, with a store and/or an append-only file);
   * `undefined` without a key.
   */
  readonly checkpoints:
    | {
        readonly signer: CheckpointSigner;
        readonly store: AuditCheckpointStore | undefined;
        readonly file?: string | undefined;
      }
    | undefined;
}

/** The audit log, or a 404 saying the server keeps none. */
export function auditLogOf(ctx: ServerContext): DecisionLogger {
  if (!ctx.auditLogger)
    throw new HttpError(404, "audit_disabled", "this server keeps no audit log");
  return ctx.auditLogger;
}
