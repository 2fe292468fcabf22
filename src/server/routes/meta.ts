/**
 * The public routes: `GET /` (name and version), `GET /health` (the backends answer) and
 * `POST /echo` (a smoke test of a deployment).
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import type { AuditStore } from "../../audit/types.ts";
import { GuardrailError } from "../../kernel/errors.ts";
import {
  type EchoBody,
  echoSchema,
  type HealthReply,
  healthSchema,
  rootSchema,
} from "../schemas/index.ts";
import type { ServerContext } from "./context.ts";

/** `sqlite` for a `SqliteAuditStore`: the kind of store, never its path or URL. */
function storeKind(store: AuditStore): string {
  const m = /^(\w+)AuditStore$/.exec(store.constructor?.name ?? "");
  const kind = m?.[1]?.toLowerCase();
  return kind === undefined ? "custom" : kind === "null" ? "none" : kind;
}

/** Settles `ok` when `check` resolves within `ms`, else `error`. */
async function probe(check: () => Promise<unknown>, ms: number): Promise<"ok" | "error"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, fail) => {
        timer = setTimeout(
          () => fail(new GuardrailError(`no answer within ${ms} ms`, { code: "timed_out" })),
          ms,
        );
      }),
    ]);
    return "ok";
  } catch {
    return "error";
  } finally {
    clearTimeout(timer);
  }
}

/** Registers `/`, `/health` and `/echo`. */
export function metaRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/", { config: { public: true }, schema: rootSchema }, async () => ({
    name: "hexarch-guardrails",
    version: ctx.version,
  }));

  // Concurrent probes share one check, so a burst of health checks is one store query.
  let running: Promise<HealthReply> | undefined;
  const check = async (): Promise<HealthReply> => {
    const logger = ctx.auditLogger;
    const [database, state] = await Promise.all([
      logger
        ? probe(() => logger.store.migrationStatus(), ctx.healthTimeoutMs)
        : ("disabled" as const),
      ctx.state.check
        ? probe(ctx.state.check, ctx.healthTimeoutMs)
        : Promise.resolve("ok" as const),
    ]);
    return {
      status: database === "error" || state === "error" ? "unavailable" : "ok",
      version: ctx.version,
      database,
      state,
      backends: { database: logger ? storeKind(logger.store) : "none", state: ctx.state.kind },
    };
  };
  app.get("/health", { config: { public: true }, schema: healthSchema }, async (request, reply) => {
    running ??= check().finally(() => {
      running = undefined;
    });
    const health = await running;
    if (health.status !== "ok") {
      request.log.warn({ database: health.database, state: health.state }, "unhealthy");
      void reply.code(503);
    }
    return health;
  });

  app.post<{ Body: EchoBody }>(
    "/echo",
    { config: { public: true }, schema: echoSchema },
    async (request) => ({
      ok: true,
      message: request.body.message,
      metadata: request.body.metadata ?? null,
    }),
  );
}
