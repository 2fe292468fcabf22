/**
 * hexarch-guardrails: policy-driven guardrails for TypeScript and Node.js.
 *
 * The core entry: policy loading, the embedded engine and in-memory state. Nothing here
 * imports a database or Redis driver; those live behind their own subpaths.
 *
 * @module hexarch-guardrails
 */

export type { DecisionEntry, DecisionRecorder } from "./audit/recorder.ts";
export {
  auditedConfirmations,
  type ConfirmationEvent,
  type ConfirmationEventKind,
} from "./confirm/events.ts";
export { fingerprintCall } from "./confirm/fingerprint.ts";
export {
  type ApprovalCallback,
  type CallbackRequest,
  HttpConfirmationGateway,
  type HttpConfirmationGatewayOptions,
  type PendingApprovalNotice,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
} from "./confirm/http-gateway.ts";
export {
  type AsymmetricSigningKey,
  type HmacSigningKey,
  MemoryReplayGuard,
  type ReplayGuard,
  type SignedConfirmationRecord,
  SignedConfirmationStore,
  type SignedConfirmationStoreOptions,
  type SigningKey,
} from "./confirm/signed-confirmation-store.ts";
export type {
  ConfirmationBinding,
  ConfirmationListFilter,
  ConfirmationRecord,
  ConfirmationRefusal,
  ConfirmationRequest,
  ConfirmationStatus,
  ConfirmationStore,
  ConsumeConfirmationResult,
  MaybePromise,
} from "./confirm/types.ts";
export {
  type ActualUsage,
  LocalDecisionClient,
  type LocalDecisionClientOptions,
} from "./decision/local-decision-client.ts";
export {
  type RemoteDecision,
  RemoteDecisionClient,
  type RemoteDecisionClientOptions,
  type RemoteFetch,
} from "./decision/remote-decision-client.ts";
export type { DecisionClient, DecisionLike } from "./decision/types.ts";
export type { DecideInput } from "./engine/compile-rule.ts";
export {
  type Comparison,
  type Condition,
  OPERATOR_ALIASES,
  OPERATORS,
  type Operator,
} from "./engine/conditions.ts";
export { PolicyCheck } from "./engine/policy-check.ts";
export {
  type RefundOptions,
  refundReservation,
  settleReservation,
} from "./engine/reservations.ts";
export {
  type RuleCondition,
  type RuleDefinition,
  RulesEngine,
  type RulesEngineResult,
} from "./engine/rules-engine.ts";
export {
  ConfirmationWorkflow,
  type ConfirmationWorkflowOptions,
  type Executed,
  type ExecuteWithConfirmation,
  type PendingApproval,
  type WorkflowTerminal,
} from "./guardian/confirmation-workflow.ts";
export type {
  DecideOptions,
  DecideRecordOptions,
  RecordMetadata,
} from "./guardian/decide-options.ts";
export type { PolicyServiceClient } from "./guardian/decision-source.ts";
export type { Guard } from "./guardian/guard.ts";
export { Guardian, type GuardianCloseResult } from "./guardian/guardian.ts";
export type {
  CallInfo,
  CheckOptions,
  EnforceOptions,
  FromArgs,
  GuardianMode,
  GuardianOptions,
  SettledUsage,
  SpendReport,
} from "./guardian/options.ts";
export type { Context } from "./kernel/context.ts";
export {
  type AllowDecision,
  type BlockDecision,
  type ConfirmationDecision,
  type Decision,
  type DecisionAction,
  type DecisionBase,
  type DecisionJSON,
  type DecisionOutcome,
  decisionToJSON,
  type RateLimitRefusal,
  type ReservedAmount,
  type WarnDecision,
} from "./kernel/decision.ts";
export {
  ConfirmationRequired,
  DecisionBackendError,
  GuardrailError,
  type GuardrailErrorOptions,
  InvalidOptionError,
  PolicyFileError,
  type PolicyFileIssue,
  PolicyViolation,
  UnknownPolicyError,
} from "./kernel/errors.ts";
export { VERSION } from "./kernel/version.ts";
export {
  MemoryConfirmationStore,
  type MemoryConfirmationStoreOptions,
} from "./memory/confirmation-store.ts";
export { MemoryStateStore, type MemoryStateStoreOptions } from "./memory/state-store.ts";
export {
  type DiscoverOptions,
  discoverPolicyFile,
  loadPolicyFile,
  type ParsePoliciesOptions,
  POLICY_FILE_NAMES,
  parsePolicies,
} from "./policy/load.ts";
export type { CalendarPeriod } from "./policy/time-zone.ts";
export type {
  Budget,
  DeniedWindow,
  ParameterBounds,
  Policy,
  PolicyLogging,
  PolicyRule,
  PolicySet,
  RateLimit,
  RuleAction,
  Schedule,
  TimeWindow,
} from "./policy/types.ts";
export type {
  ConsumeResult,
  Counter,
  CounterAdjustment,
  StateStore,
} from "./state/types.ts";
export { UnsupportedNodeVersionError } from "./util/node-floor.ts";
export { MissingPeerDependencyError } from "./util/optional-peer.ts";
