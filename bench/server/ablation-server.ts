/**
 * The decision server of `bench/server-ablation.ts`, built in-process with
 * `createServer` so that parts can be left out: `ABLATION_PARTS` lists what is on, out of
 * `audit` (the SQLite log on a worker thread, as `serve api` writes it), `log` (pino at
 * `info`, to a file, batched per turn as `serve api` does), `limit` (the HTTP request
 * limiter, set far above the load) and `metrics` (prom-client). `static` instead serves a
 * constant answer from a bare Fastify route with the same security headers: the load
 * generator's ceiling on this machine. Prints `ready <port>` once listening.
 */

import { mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecisionLogger } from "../../src/audit/decision-logger.ts";
import { batchedLines } from "../../src/cli/batched-lines.ts";
import { Guardian } from "../../src/guardian/guardian.ts";
import { parsePolicies } from "../../src/policy/load.ts";
import { createServer } from "../../src/server/app.ts";
import { SqliteAuditStore } from "../../src/sqlite/audit-store.ts";
import { BENCH_POLICIES } from "../workload.ts";

const parts = new Set((process.env.ABLATION_PARTS ?? "").split(",").filter(Boolean));
const token = process.env.ABLATION_TOKEN ?? "";
const dir = mkdtempSync(join(tmpdir(), "hexarch-ablation-"));

if (parts.has("static")) {
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false });
  const body = JSON.stringify({
    allowed: true,
    decision: "ALLOW",
    action: "allow",
    reason: "allowed",
    policies: ["rate_limit"],
    decisionId: "019abc00-0000-7000-8000-000000000000",
  });
  // The headers our server sends with every answer (helmet's, the request id, no-store).
  const headers: Record<string, string> = {
    "content-security-policy":
      "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-frame-options": "SAMEORIGIN",
    "x-permitted-cross-domain-policies": "none",
    "x-xss-protection": "0",
    "x-request-id": "e748012a-cb80-4226-a57d-3e9d5ee38fe2",
    "cache-control": "no-store",
    "content-type": "application/json; charset=utf-8",
  };
  app.post("/authorize", async (_req, reply) => reply.headers(headers).send(body));
  await app.listen({ port: 0, host: "127.0.0.1" });
  console.log(`ready ${(app.server.address() as { port: number }).port}`);
} else {
  const guardian = new Guardian({ policies: parsePolicies(BENCH_POLICIES), onWarn: () => {} });
  let auditLogger: DecisionLogger | undefined;
  if (parts.has("audit")) {
    const store = new SqliteAuditStore(join(dir, "decisions.db"), { worker: true });
    await store.migrate();
    auditLogger = new DecisionLogger(store, { exitHooks: false });
  }
  const fd = openSync(join(dir, "server.log"), "a");
  const app = await createServer({
    guardian,
    apiToken: token,
    ...(auditLogger && { auditLogger }),
    logger: parts.has("log")
      ? { level: "info", stream: batchedLines({ write: (s: string) => writeSync(fd, s) }) }
      : false,
    rateLimit: parts.has("limit") ? { max: 1e9, maxPerIp: 1e9 } : false,
    metrics: parts.has("metrics") ? {} : false,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  console.log(`ready ${(app.server.address() as { port: number }).port}`);
}
