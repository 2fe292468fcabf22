/**
 * `hexarch-ctl serve api`: the decision server. Fastify and its plugins are loaded only
 * here, and only when the command runs, so every other command starts without them.
 *
 * @module
 */

import { type Command, Option } from "commander";
import type { ApiKeyStore } from "../../api-keys/types.ts";
import type { ApiPolicyStore } from "../../api-policies/types.ts";
import type { AuditCheckpointStore } from "../../audit/checkpoints/types.ts";
import type { DecisionLogger } from "../../audit/decision-logger.ts";
import type { ConfirmationStore } from "../../confirm/types.ts";
import type { Guardian } from "../../guardian/guardian.ts";
import { discoverPolicyFile } from "../../policy/load.ts";
import type { PolicySet } from "../../policy/types.ts";
import type { StateStore } from "../../state/types.ts";
import { requirePeers } from "../../util/optional-peer.ts";
import { batchedLines } from "../batched-lines.ts";
import { CliError, usageError } from "../errors.ts";
import { wholeNumber } from "../flags.ts";
import type { CliIo } from "../output.ts";
import { type LoadedFile, loadFile } from "../policy-file.ts";
import {
  describeStore,
  openApiKeyStore,
  openApiPolicyStore,
  openCheckpointStore,
  openConfirmationStore,
  openStore,
  redactUrl,
  type StoreFlags,
  storeError,
  withStoreOptions,
} from "../store-options.ts";
import { pingRedis } from "./health.ts";

interface ServeFlags extends StoreFlags {
  readonly host: string;
  readonly port: number;
  readonly policyFile?: string;
  readonly initDb?: boolean;
  readonly apiToken?: string;
  readonly allowAnon?: boolean;
  readonly redisUrl?: string;
  readonly opaUrl?: string;
  readonly docs?: boolean;
  /** `false` with `--no-ui`. */
  readonly ui?: boolean;
  readonly metricsPublic?: boolean;
  readonly corsOrigins?: string;
  readonly rateLimit: number;
  readonly rateLimitIp: number;
  readonly apiPolicyMaxAge: number;
  readonly trustProxy?: number | string;
  readonly logLevel: string;
  readonly durable?: boolean;
  readonly checkpointFile?: string;
}

/** `1`, `true`, `yes`, `on` (any case): an environment switch that is on. */
const truthy = (v: string | undefined): boolean =>
  v !== undefined && ["1", "true", "yes", "y", "on"].includes(v.trim().toLowerCase());

/** `0`, `false`, `no`, `off` (any case): an environment switch that is off. */
const falsy = (v: string | undefined): boolean =>
  v !== undefined && ["0", "false", "no", "n", "off"].includes(v.trim().toLowerCase());

/**
 * `--trust-proxy`: a hop count, or addresses and ranges (checked when the server starts).
 * `true` is refused: believing every X-Forwarded-For entry lets any client pick its address.
 */
function trustProxyFlag(value: string): number | string {
  const v = value.trim();
  if (/^(true|yes|on|all|\*)$/i.test(v))
    throw usageError(
      `--trust-proxy ${v} would believe every X-Forwarded-For entry, so any client could pick its own address and rate-limit bucket: give the number of proxies in front (--trust-proxy 1) or their addresses (--trust-proxy 10.0.0.0/8,127.0.0.1)`,
    );
  if (/^\d+$/.test(v)) return wholeNumber("--trust-proxy", 1, 16)(v);
  if (v === "") throw usageError("--trust-proxy needs a hop count or proxy addresses");
  return v;
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Registers `serve` and `serve api` on the program. */
export function serveCommand(program: Command, io: CliIo): void {
  const serve = program.command("serve").description("run a server");
  withStoreOptions(
    serve
      .command("api")
      .description("the decision server: POST /authorize, the audit log and approvals over HTTP")
      .option("--host <host>", "interface to listen on", "127.0.0.1")
      .option(
        "--port <port>",
        "port to listen on (0: any free port)",
        wholeNumber("--port", 0, 65535),
        8099,
      )
      .option("--policy-file <file>", "policy file (default: the one the library would load)")
      .option("--init-db", "apply the audit schema's migrations before listening")
      .option(
        "--checkpoint-file <file>",
        "append every signed audit checkpoint to this JSONL file too (needs HEXARCH_AUDIT_HMAC_KEY); keep it out of the database writers' reach",
      )
      .option(
        "--durable",
        "answer /authorize only after its audit record is committed (also HEXARCH_AUDIT_DURABLE=true)",
      )
      .addOption(
        new Option("--api-token <token>", "bearer token every private route requires").env(
          "HEXARCH_API_TOKEN",
        ),
      )
      .option("--allow-anon", "admit requests without a token (also HEXARCH_API_ALLOW_ANON=true)")
      .addOption(
        new Option(
          "--redis-url <url>",
          "Redis for counters and confirmations shared by instances",
        ).env("HEXARCH_REDIS_URL"),
      )
      .addOption(
        new Option(
          "--opa-url <url>",
          "decide through Open Policy Agent (modules from `hexarch-ctl policy export --format rego`); counters stay here",
        ).env("HEXARCH_POLICY_OPA_URL"),
      )
      .option("--docs", "serve the OpenAPI document at /openapi.json (also HEXARCH_API_DOCS=true)")
      .option("--no-ui", "do not serve the console at /ui (also HEXARCH_API_UI=false)")
      .option("--metrics-public", "serve /metrics without a token")
      .addOption(
        new Option("--cors-origins <list>", "comma-separated origins browsers may call from").env(
          "HEXARCH_CORS_ORIGINS",
        ),
      )
      .option(
        "--rate-limit <n>",
        "requests per minute per token (0: no rate limits)",
        wholeNumber("--rate-limit", 0),
        6000,
      )
      .option(
        "--rate-limit-ip <n>",
        "requests per minute per IP without a valid token",
        wholeNumber("--rate-limit-ip", 1),
        600,
      )
      .option(
        "--api-policy-max-age <ms>",
        "how long an instance may answer from API-defined policies it read before another instance changed them (0: read on every request)",
        wholeNumber("--api-policy-max-age", 0),
        1000,
      )
      .option(
        "--trust-proxy <hops|list>",
        "believe X-Forwarded-For from the proxies in front: their number (1 for one load balancer) or their addresses/CIDRs, comma-separated; the client is the right-most untrusted address",
        trustProxyFlag,
      )
      .addOption(
        new Option("--log-level <level>", "log level")
          .choices(LEVELS)
          .default("info")
          .env("HEXARCH_LOG_LEVEL"),
      ),
  )
    .addHelpText(
      "after",
      `
Logs are JSON lines on standard output, each with the request id. SIGTERM or SIGINT
stops it gracefully: no new connections, requests in flight finished, the audit log
flushed, stores closed, exit 0. Prefer HEXARCH_API_TOKEN to --api-token (command lines
show up in ps). Counters (and the HTTP request limits) are in memory unless --redis-url;
confirmations live in the audit database (or Redis with --redis-url).

Examples:
  $ HEXARCH_API_TOKEN=$(openssl rand -hex 32) hexarch-ctl serve api
  $ hexarch-ctl serve api --allow-anon --port 8099 --policy-file hexarch.yaml
  $ hexarch-ctl serve api --host 0.0.0.0 --pg-url $HEXARCH_PG_URL --redis-url redis://redis:6379 --init-db
  $ curl -s -H "Authorization: Bearer $HEXARCH_API_TOKEN" -H 'content-type: application/json' \\
      -d '{"policyId":"rate_limit","context":{"userId":"alice"}}' http://127.0.0.1:8099/authorize`,
    )
    .action(async (flags: ServeFlags) => {
      await serveApi(flags, io);
    });
}

/** Closes what was opened before the server could take it over. */
async function closeAll(parts: readonly ({ close?(): unknown } | undefined)[]): Promise<void> {
  await Promise.allSettled(parts.map(async (p) => p?.close?.()));
}

/**
 * Every optional package this run of the server needs and does not find, as one error:
 * without it the imports would fail one package at a time, each as a crash.
 */
async function checkServerPeers(flags: ServeFlags, docs: boolean): Promise<void> {
  const { serverPeers } = await import("../../server/peers.ts");
  requirePeers("serve api", [
    ...serverPeers({ docs }),
    ...(flags.redisUrl ? ["redis"] : []),
    ...(flags.pgUrl || flags.pgHost ? ["pg"] : []),
  ]);
}

async function serveApi(flags: ServeFlags, io: CliIo): Promise<void> {
  const docs = flags.docs === true || truthy(io.env.HEXARCH_API_DOCS);
  await checkServerPeers(flags, docs);
  const allowAnon = flags.allowAnon === true || truthy(io.env.HEXARCH_API_ALLOW_ANON);
  const apiToken = flags.apiToken?.trim() || undefined;
  if (apiToken === undefined && !allowAnon) {
    throw usageError(
      "refusing to start without an API token",
      "set HEXARCH_API_TOKEN (or --api-token), or pass --allow-anon for a server only trusted callers can reach",
    );
  }
  const policies = servedPolicies(flags.policyFile, io);
  // Loaded only now: without `serve`, the CLI never touches Fastify.
  const { startServer } = await import("../../server/run.ts");

  let logError: (err: Error) => void = (err) =>
    void io.stderr.write(`hexarch-ctl: ${err.message}\n`);
  // A SQLite log is written on a worker thread: a batch's commit never holds the event loop.
  const store = await openStore(flags, io, { mustExist: false, worker: true });
  const { DecisionLogger } = await import("../../audit/decision-logger.ts");
  const { Guardian } = await import("../../guardian/guardian.ts");
  let auditLogger: DecisionLogger | undefined;
  let state: StateStore | undefined;
  let confirmations: ConfirmationStore | undefined;
  let apiPolicies: ApiPolicyStore | undefined;
  let apiKeys: ApiKeyStore | undefined;
  let checkpointStore: AuditCheckpointStore | undefined;
  // Signed audit checkpoints: only with a key (never logged; its length is checked by the server).
  const hmacKey = io.env.HEXARCH_AUDIT_HMAC_KEY?.trim() || undefined;
  const hmacKeyId = io.env.HEXARCH_AUDIT_HMAC_KEY_ID?.trim() || undefined;
  if (flags.checkpointFile !== undefined && hmacKey === undefined)
    throw usageError(
      "--checkpoint-file needs the checkpoint signing key: set HEXARCH_AUDIT_HMAC_KEY (at least 32 bytes, e.g. openssl rand -hex 32)",
    );
  let guardian: Guardian | undefined;
  const { borrowedConfirmations } = await import("../../confirm/borrowed.ts");
  const { confirmationSink } = await import("../../confirm/events.ts");
  // The state store is shared by every Guardian a reload makes, so counters survive it. So
  // is the confirmation store: /authorize consumes the tokens the approval routes approved
  // (the server closes the store; the Guardians borrow it, reporting uses to the audit log).
  // The live events of GET /events/stream hear of the tokens /authorize uses from here.
  const { EventHub } = await import("../../server/event-hub.ts");
  const events = new EventHub();
  const makeGuardian = (set: PolicySet): Guardian => {
    const audit = confirmationSink(auditLogger, (e) => logError(e as Error));
    return new Guardian({
      policies: set,
      ...(flags.opaUrl?.trim() && { opaUrl: flags.opaUrl.trim() }),
      cwd: io.cwd,
      env: io.env,
      ...(state && { state }),
      ...(confirmations && {
        confirmations: borrowedConfirmations(confirmations, (e) => {
          audit?.(e);
          events.confirmation(e);
        }),
      }),
      // Warnings travel in the answers; failures go to the server log.
      onWarn: () => {},
      onError: (e) => logError(e),
    });
  };
  try {
    if (flags.initDb) {
      const results = await store.migrate().catch((err: unknown) => {
        throw storeError(err, flags, io);
      });
      const failed = results.find((r) => r.status === "failed");
      if (failed)
        throw new CliError(
          `migration ${failed.version} (${failed.name}) failed on ${describeStore(flags, io)}: ${failed.error}`,
        );
    }
    // The server flushes the log on shutdown itself: no exit hooks of the logger's own.
    // Durable: each answer waits for its record's commit (concurrent ones share a transaction).
    auditLogger = new DecisionLogger(store, {
      exitHooks: false,
      onError: (e) => logError(e),
      durable: flags.durable === true || truthy(io.env.HEXARCH_AUDIT_DURABLE),
    });
    if (flags.redisUrl) {
      const redis = await import("../../redis/index.ts");
      try {
        state = new redis.RedisStateStore({ url: flags.redisUrl });
        confirmations = new redis.RedisConfirmationStore({ url: flags.redisUrl });
      } catch (err) {
        throw usageError(`--redis-url: ${(err as Error).message}`);
      }
    } else {
      confirmations = await openConfirmationStore(flags, io);
    }
    apiPolicies = await openApiPolicyStore(flags, io);
    apiKeys = await openApiKeyStore(flags, io);
    if (hmacKey !== undefined) checkpointStore = await openCheckpointStore(flags, io);
    guardian = makeGuardian(policies?.set ?? NO_POLICIES);
  } catch (err) {
    await closeAll([
      auditLogger ?? store,
      state,
      confirmations,
      apiPolicies,
      apiKeys,
      checkpointStore,
    ]);
    throw err;
  }

  const redisUrl = flags.redisUrl;
  const origins = (flags.corsOrigins ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  let server: Awaited<ReturnType<typeof startServer>>;
  // A line per request at info: written once per turn of the event loop, not each alone.
  const logLines = batchedLines(io.stdout);
  try {
    server = await startServer({
      guardian,
      auditLogger,
      events,
      ...(confirmations && { confirmations }),
      ...(apiPolicies && {
        apiPolicies: new (
          await import("../../decision/api-policy-decisions.ts")
        ).ApiPolicyDecisions(apiPolicies, { maxAgeMs: flags.apiPolicyMaxAge }),
      }),
      ...(apiKeys && { apiKeys }),
      apiKeyAdmin: truthy(io.env.HEXARCH_API_KEY_ADMIN_ENABLED),
      ...(hmacKey !== undefined && {
        auditCheckpoints: {
          key: hmacKey,
          ...(hmacKeyId !== undefined && { keyId: hmacKeyId }),
          ...(checkpointStore && { store: checkpointStore }),
          ...(flags.checkpointFile !== undefined && { file: flags.checkpointFile }),
        },
      }),
      // POST /policies/reload: the file again, validated; the old Guardian keeps serving on error.
      // Without a file at start, a reload looks for one again (after `hexarch-ctl init`, say).
      reloadPolicies: () => makeGuardian(loadFile(policies?.path ?? flags.policyFile, io).set),
      ...(apiToken !== undefined && { apiToken }),
      allowAnon,
      corsOrigins: origins,
      // With Redis, the HTTP request limits are counted across instances too.
      rateLimit:
        flags.rateLimit === 0
          ? false
          : {
              max: flags.rateLimit,
              maxPerIp: flags.rateLimitIp,
              ...(redisUrl && { redis: { url: redisUrl } }),
            },
      ...(flags.trustProxy !== undefined && { trustProxy: flags.trustProxy }),
      docs,
      ui: flags.ui !== false && !falsy(io.env.HEXARCH_API_UI),
      metrics: { public: flags.metricsPublic === true },
      logger: { level: flags.logLevel, stream: logLines },
      state: redisUrl
        ? {
            kind: "redis",
            ...(redisUrl.startsWith("redis://") && { check: () => pingRedis(redisUrl) }),
          }
        : { kind: "memory" },
      host: flags.host,
      port: flags.port,
    });
  } catch (err) {
    logLines.close();
    // startServer closed what it was given; the checkpoint store is ours to close.
    await closeAll([checkpointStore]);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      throw new CliError(
        `cannot listen on ${flags.host}:${flags.port}: ${(err as Error).message}`,
        {
          ...(code === "EADDRINUSE" && {
            hint: "another process uses the port: pick another with --port",
          }),
        },
      );
    }
    if ((err as Error).name === "ServerConfigError") throw usageError((err as Error).message);
    throw err;
  }
  logError = (err) => server.app.log.error({ err }, err.message);
  server.app.log.info(
    {
      policyFile: policies?.path ?? null,
      auditStore: describeStore(flags, io),
      state: redisUrl ? redactUrl(redisUrl) : "memory",
      auth: apiToken !== undefined ? "api-token" : "anonymous",
    },
    "serving",
  );
  const report = await server.closed;
  logLines.close();
  await closeAll([checkpointStore]);
  // After a signal, a store that never answered may leave a socket open that would keep
  // the process alive: exit anyway soon after (this timer alone does not hold the process).
  if (report.signal !== undefined) setTimeout(() => process.exit(), 2000).unref();
  if (report.errors.length > 0)
    throw new CliError("the server stopped, but not cleanly (see the log above)");
}

/** No YAML policies: the server decides API-defined policies only. */
const NO_POLICIES: PolicySet = { source: "<none>", policies: [] };

/**
 * The policy file to serve. A file named by `--policy-file` or `HEXARCH_POLICY_FILE` must
 * load; without either, a server where no file is found starts anyway, with API-defined
 * policies only (as the Python server does), and says so on stderr.
 */
function servedPolicies(explicit: string | undefined, io: CliIo): LoadedFile | undefined {
  if (explicit !== undefined || io.env.HEXARCH_POLICY_FILE?.trim()) return loadFile(explicit, io);
  try {
    discoverPolicyFile(undefined, { cwd: io.cwd, env: io.env });
  } catch {
    io.stderr.write(
      "hexarch-ctl: no policy file found (hexarch.yaml, hexarch.yml, .hexarch.yaml or .hexarch.yml here or above); serving API-defined policies only (POST /rules, POST /policies). Pass --policy-file FILE, or run `hexarch-ctl init` and POST /policies/reload.\n",
    );
    return undefined;
  }
  return loadFile(undefined, io);
}
