/**
 * JSON Schemas of every route's body, parameters, query and responses, so the validator,
 * the serializer and the OpenAPI document all read the same definitions. The TypeScript
 * shapes beside them are what handlers see after validation. They live by route group in
 * this folder; this module re-exports the public ones.
 *
 * @module
 */

export {
  type ApiKeyBody,
  apiKeyCreateSchema,
  apiKeyListSchema,
  apiKeyRevokeSchema,
} from "./api-keys.ts";
export {
  type ApprovalBody,
  type ApprovalListQuery,
  approvalDecideSchema,
  approvalGetSchema,
  approvalListSchema,
} from "./approvals.ts";
export {
  type AuditLogsQuery,
  auditBlockedSchema,
  auditLogsSchema,
  auditStatsAllSchema,
  auditStatsSchema,
  auditTrailSchema,
  auditVerifySchema,
} from "./audit.ts";
export { type AuthorizeBody, type AuthorizeReply, authorizeSchema } from "./authorize.ts";
export { type AuditBudgetsQuery, auditBudgetsSchema } from "./budgets.ts";
export {
  auditCheckpointCreateSchema,
  auditCheckpointLatestSchema,
  auditCheckpointListSchema,
  auditCheckpointNowSchema,
  type CheckpointCreateBody,
  type CheckpointListQuery,
} from "./checkpoints.ts";
export { errorSchema } from "./common.ts";
export { eventStreamSchema } from "./events.ts";
export {
  type ProviderCallBody,
  type ProviderCallsQuery,
  providerCallCreateSchema,
  providerCallListSchema,
} from "./provider-calls.ts";
export { type AuditReplayBody, auditReplaySchema } from "./replay.ts";
export {
  type PolicyBody,
  policyCreateSchema,
  policyDeleteSchema,
  policyGetSchema,
  policyListSchema,
  policyPatchSchema,
  policyReloadSchema,
  policyReplaceSchema,
  type RuleBody,
  ruleCreateSchema,
  ruleDeleteSchema,
  ruleGetSchema,
  ruleListSchema,
  rulePatchSchema,
  ruleReplaceSchema,
} from "./rules-policies.ts";
export {
  ECHO_MAX_CHARS,
  type EchoBody,
  echoSchema,
  type HealthReply,
  healthSchema,
  metricsSchema,
  openapiSchema,
  rootSchema,
} from "./service.ts";
export { type WhoamiReply, whoamiSchema } from "./whoami.ts";
