/**
 * `hexarch-guardrails/audit`: every decision recorded, queryable and tamper-evident.
 *
 * @module hexarch-guardrails/audit
 */

export {
  API_KEY_ID_LENGTH,
  API_KEY_PREFIX,
  apiKeyIdOf,
  generateApiKey,
  hashApiKey,
} from "../api-keys/keys.ts";
export {
  API_KEY_SCOPES,
  type ApiKey,
  type ApiKeyCheck,
  type ApiKeyScope,
  type ApiKeyStore,
  type ApiKeySubject,
  type CreatedApiKey,
} from "../api-keys/types.ts";
export {
  API_FAILURE_MODES,
  API_POLICY_SCOPES,
  type ApiFailureMode,
  type ApiPolicy,
  type ApiPolicyInput,
  type ApiPolicyScope,
  type ApiPolicyStore,
  type ApiRule,
  type ApiRuleInput,
} from "../api-policies/types.ts";
export {
  type BudgetForecast,
  type BudgetForecastOptions,
  type BudgetForecastReport,
  budgetForecast,
  type TruncatedBudget,
} from "../decision/budget-forecast.ts";
export {
  type ReplayFlip,
  type ReplayOptions,
  type ReplayPolicyReport,
  type ReplayReport,
  replayAuditLog,
} from "../decision/replay.ts";
export {
  PostgresApiKeyStore,
  type PostgresApiKeyStoreOptions,
} from "../postgres/api-key-store.ts";
export {
  PostgresApiPolicyStore,
  type PostgresApiPolicyStoreOptions,
} from "../postgres/api-policy-store.ts";
export {
  PostgresAuditStore,
  type PostgresAuditStoreOptions,
} from "../postgres/audit-store.ts";
export {
  PostgresAuditCheckpointStore,
  type PostgresAuditCheckpointStoreOptions,
} from "../postgres/checkpoint-store.ts";
export {
  PostgresConfirmationStore,
  type PostgresConfirmationStoreOptions,
} from "../postgres/confirmation-store.ts";
export type {
  PgClientLike,
  PgConnectionConfig,
  PgPoolLike,
  PgResult,
} from "../postgres/connection.ts";
export type { ApiKeyStoreOptions } from "../sql/api-keys.ts";
export { SqliteApiKeyStore } from "../sqlite/api-key-store.ts";
export {
  SqliteApiPolicyStore,
  type SqliteApiPolicyStoreOptions,
} from "../sqlite/api-policy-store.ts";
export { SqliteAuditStore, type SqliteAuditStoreOptions } from "../sqlite/audit-store.ts";
export { SqliteAuditCheckpointStore } from "../sqlite/checkpoint-store.ts";
export {
  SqliteConfirmationStore,
  type SqliteConfirmationStoreOptions,
} from "../sqlite/confirmation-store.ts";
export { type ChainWalkOptions, verifyChain } from "./chain-verify.ts";
export {
  appendCheckpointFile,
  type CheckpointFile,
  readCheckpointFile,
} from "./checkpoints/checkpoint-file.ts";
export {
  type AuditVerification,
  allCheckpoints,
  type TakeCheckpointResult,
  takeCheckpoint,
  verifyWithCheckpoints,
} from "./checkpoints/checkpoints.ts";
export {
  AUDIT_HMAC_MIN_BYTES,
  CheckpointSigner,
  type CheckpointSignerOptions,
  checkpointMessage,
  defaultKeyId,
} from "./checkpoints/signing.ts";
export type {
  AuditCheckpoint,
  AuditCheckpointStore,
  CheckpointProblem,
  CheckpointVerifyResult,
  UnsignedCheckpoint,
} from "./checkpoints/types.ts";
export {
  DecisionLogger,
  type DecisionLoggerCloseResult,
  type DecisionLoggerOptions,
  type DecisionLoggerStats,
  type PolicyStats,
  parseDuration,
  type Timeseries,
  type TimeseriesPoint,
  toAuditRecord,
  type WindowPolicyCounts,
  type WindowSummary,
} from "./decision-logger.ts";
export {
  type ChainProblem,
  canonicalJson,
  GENESIS,
  PRUNE_RECORDS_SHOWN,
  type PruneRecordSummary,
  recordHash,
  type VerifyResult,
} from "./hash-chain.ts";
export { NullAuditStore } from "./null-audit-store.ts";
export type { DecisionEntry, DecisionRecorder } from "./recorder.ts";
export type { ProviderCallEvent } from "./records.ts";
export type {
  AuditBucketCount,
  AuditOutcome,
  AuditPolicyOutcomeCount,
  AuditQuery,
  AuditRecord,
  AuditStore,
  AuditTimeseriesQuery,
  AuditWindow,
  AuditWindowCounts,
  ChainEntry,
  ChainedRecord,
  MigrationResult,
  MigrationStatus,
  PolicyCounts,
  PrunedRun,
  PruneOptions,
  PruneRecord,
  Tombstone,
} from "./types.ts";
export { AuditChainDamageError } from "./types.ts";
export { MAX_TIMESERIES_BUCKETS } from "./windows.ts";
