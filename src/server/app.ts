/**
 * `createServer`: the decision server as a Fastify instance (not listening), built from a
 * Guardian, an optional audit log and an optional confirmation store.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import type { FastifyInstance, FastifyRequest } from "fastify";
import Fastify from "fastify";
import { apiKeyIdOf } from "../api-keys/keys.ts";
import { CheckpointSigner } from "../audit/checkpoints/signing.ts";
import {
  auditedConfirmations,
  type ConfirmationEvent,
  confirmationSink,
} from "../confirm/events.ts";
import { ApiPolicyDecisions } from "../decision/api-policy-decisions.ts";
import { VERSION } from "../kernel/version.ts";
import { type ApiKeyAuth, apiKeyAuth } from "./api-key-auth.ts";
import { type Authenticator, bearerOf, type Identity, SANE_ID, staticTokenAuth } from "./auth.ts";
import { clientErrorHandler } from "./client-error.ts";
import { errorBody, errorHandler, HttpError, ServerConfigError } from "./errors.ts";
import { EventHub, withDecisionEvents } from "./event-hub.ts";
import { loggerOptions, versionedOptions } from "./fastify-config.ts";
import { installMetrics, NO_METRICS } from "./metrics.ts";
import { DEFAULT_BODY_LIMIT_BYTES, type ServerOptions } from "./options.ts";
import { httpRateLimitPrefix, redisRateLimitStore } from "./rate-limit-store.ts";
import { redactUrl } from "./redact-url.ts";
import { coerceQuery, MAX_BODY_DEPTH, nestsDeeper } from "./request-input.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { apiPolicyRoutes } from "./routes/api-policies.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { auditRoutes } from "./routes/audit.ts";
import { authorizeRoutes } from "./routes/authorize.ts";
import { budgetRoutes } from "./routes/budgets.ts";
import { checkpointRoutes } from "./routes/checkpoints.ts";
import type { ServerContext } from "./routes/context.ts";
import { eventRoutes } from "./routes/events.ts";
import { metaRoutes } from "./routes/meta.ts";
import { providerCallRoutes } from "./routes/provider-calls.ts";
import { whoamiRoutes } from "./routes/whoami.ts";
import { openapiSchema } from "./schemas/index.ts";
import { securityHeaders } from "./security-headers.ts";
import { checkServerOptions } from "./server-options.ts";
import { trustProxyOption } from "./trust-proxy.ts";
import { uiRoutes } from "./ui.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated caller; `null` on public routes. */
    identity: Identity | null;
  }
  interface FastifyContextConfig {
    /** Reachable without credentials (`GET /`, `GET /health`, `POST /echo`). */
    public?: boolean;
  }
}

/** Who may read the docs: the OpenAPI document and the UI over it share one rule. */
const DOCS_ACCESS = { public: true } as const;

/**
 * The Swagger UI over the OpenAPI document, at `/docs`, reachable as the document is.
 * `@fastify/swagger-ui` is an optional peer dependency, loaded only when docs are on.
 */
async function docsUi(app: FastifyInstance): Promise<void> {
  let ui: typeof import("@fastify/swagger-ui").default;
  try {
    ui = (await import("@fastify/swagger-ui")).default;
  } catch (err) {
    throw new ServerConfigError(
      "the docs (--docs, HEXARCH_API_DOCS) need the '@fastify/swagger-ui' package: npm install @fastify/swagger-ui",
      { cause: err },
    );
  }
  // biome-ignore lint/nursery/noMisusedPromises: Fastify awaits an async plugin (FastifyPluginAsync); Biome cannot see Fastify's types.
  await app.register(async (scope) => {
    // Every route the plugin adds (the page, its assets, /docs/json) follows the document's rule.
    scope.addHook("onRoute", (route) => {
      route.config = { ...route.config, ...DOCS_ACCESS };
    });
    await scope.register(ui, {
      routePrefix: "/docs",
      uiConfig: { deepLinking: true, persistAuthorization: false },
      // The page is often opened over plain http on localhost, where upgrading its assets
      // to https would leave it blank.
      transformStaticCSP: (header) =>
        header
          .split(";")
          .filter((d) => d.trim() !== "upgrade-insecure-requests")
          .join(";"),
    });
  });
}

/**
 * The rate limiter's bucket: public routes (`/`, `/health`, `/echo`, docs) their own per
 * IP, so failed logins cannot silence a health check; else the token (or an API key seen
 * before) when valid, else the client's IP.
 */
function rateLimitKey(auth: Authenticator, keys: ApiKeyAuth | undefined) {
  return (request: FastifyRequest): string => {
    if (request.routeOptions.config.public === true) return `public:${request.ip}`;
    if (auth.hasValidToken(request)) return "token";
    const bearer = bearerOf(request);
    const bucket = keys && bearer !== undefined ? keys.bucketOf(bearer) : undefined;
    if (bucket !== undefined) return bucket;
    // Anonymous callers of an anonymous server are its clients, limited per IP like tokens.
    if (auth.anonymous && bearerOf(request) === undefined) return `anon:${request.ip}`;
    return `ip:${request.ip}`;
  };
}

/**
 * Builds the decision server: routes, validation, authentication, rate limits, CORS,
 * security headers and structured logs with a request id in every line. It does not
 * listen (`startServer` does; tests call `inject`), and it does not own the Guardian, the
 * audit log or the stores: whoever made them closes them.
 *
 * @throws ServerConfigError when no API token is configured and `allowAnon` is not set,
 *   or an option is out of range.
 *
 * @example
 * ```ts
 * import { createServer } from "hexarch-guardrails/server";
 * const app = await createServer({ guardian, auditLogger, apiToken: process.env.HEXARCH_API_TOKEN });
 * const res = await app.inject({ method: "GET", url: "/health" });
 * ```
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  checkServerOptions(options);
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const handleError = errorHandler(bodyLimit);
  const version = options.version ?? VERSION;
  const logger = options.logger;
  const app = Fastify({
    logger: loggerOptions(logger),
    ...versionedOptions(),
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && SANE_ID.test(given) ? given : randomUUID();
    },
    bodyLimit,
    trustProxy: trustProxyOption(options.trustProxy),
    // Requests Node's parser refuses (a bad Content-Length…) get the JSON error shape too.
    clientErrorHandler,
    requestTimeout: 30_000,
    return503OnClosing: true,
    // Errors the router raises before any hook (a URL that cannot be decoded, a parameter
    // over the length limit) get the same JSON shape and request id as every other.
    frameworkErrors: (error, request, reply) => {
      void reply.header("x-request-id", request.id).header("cache-control", "no-store");
      handleError(error, request, reply);
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  // JSON only: a text body on a JSON route is a 415, not a string that fails validation.
  app.removeContentTypeParser("text/plain");
  app.decorateRequest("identity", null);
  // Before any plugin adds routes: a route keeps the error handler in force when it is added.
  app.setErrorHandler(handleError);

  const auth = staticTokenAuth(options.apiToken, options.allowAnon === true);
  // Live events: every decision recorded through the server's audit log is streamed.
  const events = options.events ?? new EventHub();
  app.addHook("preClose", async () => events.close());
  const auditLogger = options.auditLogger && withDecisionEvents(options.auditLogger, events);
  const apiKeyStore = options.apiKeys;
  const keys = apiKeyStore
    ? apiKeyAuth(
        apiKeyStore,
        auditLogger,
        () => ctx.guardian,
        (err) => app.log.error({ err }, "recording an API key refusal in the audit log failed"),
      )
    : undefined;
  if (options.allowAnon) {
    app.log.warn(
      options.apiToken === undefined
        ? "ANONYMOUS ACCESS: no API token is configured, so anyone who can reach this server may make decisions, read the audit log and approve requests. Use it only on a trusted network."
        : "ANONYMOUS ACCESS: requests without a token are admitted as 'anonymous'; only a wrong token is refused.",
    );
  }

  // @fastify/helmet's headers, learned once: the plugin rebuilds them on every request.
  const security = await securityHeaders();
  app.addHook("onRequest", (request, reply, done) => {
    void reply
      .headers(security)
      .header("x-request-id", request.id)
      .header("cache-control", "no-store");
    done();
  });
  const origins = options.corsOrigins ?? [];
  if (origins.length > 0) {
    // An OPTIONS request that is no preflight gets the JSON error shape, not the plugin's text.
    app.addHook("onRequest", async (request) => {
      const h = request.headers;
      if (request.method === "OPTIONS" && (!h.origin || !h["access-control-request-method"]))
        throw new HttpError(
          400,
          "bad_request",
          "a CORS preflight needs Origin and Access-Control-Request-Method headers",
        );
    });
    await app.register(cors, {
      origin: origins.includes("*") ? true : [...origins],
      methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
      allowedHeaders: [
        "Authorization",
        "Content-Type",
        "X-Request-Id",
        "X-Actor-Id",
        "X-Actor-Type",
        "X-User-Id",
        "X-Tenant-Id",
        "X-Org-Id",
        "X-Organization-Id",
        "X-Team-Id",
        "X-Confirmation-Token",
      ],
      exposedHeaders: [
        "X-Request-Id",
        "X-Confirmation-Token",
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Link",
      ],
      credentials: false,
      maxAge: 600,
    });
  }
  const limits = options.rateLimit === false ? undefined : (options.rateLimit ?? {});
  if (limits) {
    const max = limits.max ?? 6000;
    const maxPerIp = limits.maxPerIp ?? 600;
    const windowMs = limits.windowMs ?? 60_000;
    // With Redis, every instance sharing it counts against the same buckets.
    const shared =
      limits.redis &&
      redisRateLimitStore(limits.redis, {
        keyPrefix: limits.redisKeyPrefix ?? httpRateLimitPrefix(options.apiToken),
        onFallback: (err) =>
          app.log.warn(
            { err },
            "HTTP rate limits: Redis failed; counting in this instance for 5 s",
          ),
      });
    if (shared)
      app.addHook("onClose", async () => {
        await shared.close();
      });
    await app.register(rateLimit, {
      global: true,
      timeWindow: windowMs,
      max: (_request, key) => (key.startsWith("ip:") || key.startsWith("public:") ? maxPerIp : max),
      keyGenerator: rateLimitKey(auth, keys),
      ...(shared && { store: shared.Store }),
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          429,
          "rate_limited",
          `too many requests: at most ${context.max} per ${windowMs / 1000} s; retry in ${context.after}`,
        ),
    });
  }
  if (options.docs) {
    await app.register(swagger, {
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "hexarch-guardrails decision server",
          version,
          description: "Policy decisions, the audit log and approvals over HTTP.",
        },
        components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
        security: [{ bearer: [] }],
      },
    });
    app.get("/openapi.json", { config: DOCS_ACCESS, schema: openapiSchema }, async () =>
      app.swagger(),
    );
    await docsUi(app);
  }

  // After the rate limiter (whose hooks run at onRequest), so failed logins are counted.
  app.addHook("preParsing", async (request, _reply, payload) => {
    if (request.is404 || request.routeOptions.config.public === true) return payload;
    const bearer = bearerOf(request);
    // A key-shaped token that is not the static token is an API key (when the server has them).
    request.identity =
      keys &&
      bearer !== undefined &&
      apiKeyIdOf(bearer) !== undefined &&
      !auth.hasValidToken(request)
        ? await keys.authenticate(request, bearer)
        : auth.authenticate(request);
    if (keys) await keys.authorize(request);
    return payload;
  });
  app.addHook("preValidation", async (request) => {
    const schema = request.routeOptions.schema;
    if (schema?.querystring && request.query && typeof request.query === "object")
      coerceQuery(request.query as Record<string, unknown>, schema.querystring);
    if (nestsDeeper(request.body, MAX_BODY_DEPTH)) {
      throw new HttpError(400, "invalid_body", `body nests deeper than ${MAX_BODY_DEPTH} levels`, {
        extras: { field: "body" },
      });
    }
  });
  app.setNotFoundHandler(limits ? { preHandler: app.rateLimit() } : {}, async (request, reply) =>
    reply
      .code(404)
      .send(
        errorBody(
          404,
          "route_not_found",
          `no route ${request.method} ${redactUrl(request.url.split("?")[0] ?? "")}`,
          request.id,
        ),
      ),
  );

  const metrics =
    options.metrics === false ? NO_METRICS : installMetrics(app, options.metrics?.public === true);
  const auditSink = confirmationSink(options.auditLogger, (err) =>
    app.log.error({ err }, "recording an approval in the audit log failed"),
  );
  // Requests the routes create, approve and deny go to the audit log and the live events.
  const sink = (event: ConfirmationEvent) => {
    auditSink?.(event);
    events.confirmation(event);
  };
  const ctx: ServerContext = {
    guardian: options.guardian,
    auditLogger,
    confirmations: options.confirmations
      ? auditedConfirmations(options.confirmations, sink)
      : options.guardian.confirmations,
    version,
    state: options.state ?? { kind: "memory" },
    healthTimeoutMs: options.healthTimeoutMs ?? 2000,
    metrics,
    apiPolicies:
      options.apiPolicies &&
      (options.apiPolicies instanceof ApiPolicyDecisions
        ? options.apiPolicies
        : new ApiPolicyDecisions(options.apiPolicies)),
    reloadPolicies: options.reloadPolicies,
    checkpoints: options.auditCheckpoints && {
      signer: new CheckpointSigner(options.auditCheckpoints),
      store: options.auditCheckpoints.store,
      file: options.auditCheckpoints.file,
    },
  };
  if (options.confirmations && !options.guardian.confirmations)
    app.log.warn(
      "the approval routes have a confirmation store but the Guardian has none: /authorize issues no confirmation tokens and checks none; give the Guardian the same store (new Guardian({ confirmations: borrowedConfirmations(store) }))",
    );
  metaRoutes(app, ctx);
  authorizeRoutes(app, ctx);
  auditRoutes(app, ctx);
  budgetRoutes(app, ctx, { cacheMs: options.budgetsCacheMs });
  checkpointRoutes(app, ctx);
  approvalRoutes(app, ctx);
  apiPolicyRoutes(app, ctx);
  providerCallRoutes(app, ctx);
  if (options.apiKeyAdmin === true && apiKeyStore && keys) apiKeyRoutes(app, apiKeyStore, keys);
  if (options.ui !== false) uiRoutes(app);
  eventRoutes(app, events);
  whoamiRoutes(app, ctx, {
    apiKeys: options.apiKeyAdmin === true && apiKeyStore !== undefined && keys !== undefined,
    ui: options.ui !== false,
  });
  return app;
}
