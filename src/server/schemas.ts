/**
 * JSON Schemas of every route's body, parameters, query and responses, so the validator,
 * the serializer and the OpenAPI document all read the same definitions. The TypeScript
 * shapes beside them are what handlers see after validation. They live by route group in
 * `./schemas/`; this module re-exports the public ones.
 *
 * @module
 */

export {
  type ApiKeyBody,
  apiKeyCreateSchema,
  apiKeyListSchema,
  apiKeyRevokeSchema,
} from "./schemas/api-keys.ts";
export { type ApprovalBody, approvalDecideSchema, approvalGetSchema } from "./schemas/approvals.ts";
export {
  type AuditLogsQuery,
  auditBlockedSchema,
  auditLogsSchema,
  auditStatsAllSchema,
  auditStatsSchema,
  auditTrailSchema,
  auditVerifySchema,
} from "./schemas/audit.ts";
export { type AuthorizeBody, type AuthorizeReply, authorizeSchema } from "./schemas/authorize.ts";
export {
  auditCheckpointCreateSchema,
  auditCheckpointLatestSchema,
  auditCheckpointListSchema,
  auditCheckpointNowSchema,
  type CheckpointCreateBody,
  type CheckpointListQuery,
} from "./schemas/checkpoints.ts";
export { errorSchema } from "./schemas/common.ts";
export {
  type ProviderCallBody,
  type ProviderCallsQuery,
  providerCallCreateSchema,
  providerCallListSchema,
} from "./schemas/provider-calls.ts";
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
} from "./schemas/rules-policies.ts";
export {
  ECHO_MAX_CHARS,
  type EchoBody,
  echoSchema,
  type HealthReply,
  healthSchema,
  metricsSchema,
  openapiSchema,
  rootSchema,
} from "./schemas/service.ts";
