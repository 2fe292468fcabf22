/**
 * The decision server: `hexarch-ctl serve api` as a library. Needs `fastify` and its
 * plugins (`@fastify/helmet`, `@fastify/cors`, `@fastify/rate-limit`, `@fastify/swagger`)
 * and `prom-client`, all optional peer dependencies of hexarch-guardrails. They are loaded
 * when `createServer` or `startServer` is called, not on import: a missing one is then a
 * `MissingPeerDependencyError` naming all of them and the `npm install` command.
 *
 * @module hexarch-guardrails/server
 */

export { borrowedConfirmations } from "../confirm/borrowed.ts";
export {
  API_POLICIES_ID,
  type ApiPolicyClient,
  type ApiPolicyEnvelope,
  type ApiPolicyOutcome,
  type CallerIdentity,
} from "../decision/api-policy-client.ts";
export {
  ApiPolicyDecisions,
  type ApiPolicyDecisionsOptions,
} from "../decision/api-policy-decisions.ts";
export { type Authenticator, type Identity, staticTokenAuth, tokenMatches } from "./auth.ts";
export { bindSubject, type SubjectClaims } from "./bound-subject.ts";
export { createServer } from "./create-server.ts";
export { type ErrorExtras, HttpError, ServerConfigError } from "./errors.ts";
export {
  type ConfirmationEventData,
  type DecisionEventData,
  EventHub,
  type EventHubOptions,
  type ServerEvent,
  type ServerEventType,
  type StreamRefusal,
  type SubscribeOptions,
  type Subscription,
} from "./event-hub.ts";
export {
  type AuditCheckpointOptions,
  DEFAULT_BODY_LIMIT_BYTES,
  type RateLimitOptions,
  type ServerLoggerOptions,
  type ServerOptions,
  type StateBackend,
  type TrustProxy,
} from "./options.ts";
export { redactUrl } from "./redact-url.ts";
export {
  type RunningServer,
  type ShutdownReport,
  type StartServerOptions,
  startServer,
} from "./run.ts";
export type {
  ApprovalBody,
  AuthorizeBody,
  AuthorizeReply,
  EchoBody,
  HealthReply,
} from "./schemas/index.ts";
