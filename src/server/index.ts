/**
 * The decision server: `hexarch-ctl serve api` as a library. Needs `fastify` and its
 * plugins (`@fastify/helmet`, `@fastify/cors`, `@fastify/rate-limit`, `@fastify/swagger`)
 * and `prom-client`, all optional peer dependencies of hexarch-guardrails.
 *
 * @module
 */

export { borrowedConfirmations } from "../confirm/borrowed.ts";
export { createServer } from "./app.ts";
export { type Authenticator, type Identity, staticTokenAuth, tokenMatches } from "./auth.ts";
export { bindSubject, type SubjectClaims } from "./bound-subject.ts";
export { HttpError, ServerConfigError } from "./errors.ts";
export { redactUrl } from "./fastify-config.ts";
export {
  DEFAULT_BODY_LIMIT_BYTES,
  type RateLimitOptions,
  type ServerLoggerOptions,
  type ServerOptions,
  type StateBackend,
  type TrustProxy,
} from "./options.ts";
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
} from "./schemas.ts";
