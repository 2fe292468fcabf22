/**
 * `startServer`: the decision server listening, and shutting down gracefully on SIGTERM or
 * SIGINT — no new connections, requests in flight finished, the audit log flushed, the
 * stores closed.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { GuardrailError } from "../kernel/errors.ts";
import { settleWithin } from "../util/timeout.ts";
import { createServer } from "./create-server.ts";
import type { ServerOptions } from "./options.ts";

/** Options of {@link startServer}: the server's, and where and how it runs. */
export interface StartServerOptions extends ServerOptions {
  /**
   * The interface to listen on.
   * @default "127.0.0.1"
   */
  readonly host?: string;
  /**
   * The port; `0` picks a free one (see {@link RunningServer.port}).
   * @default 8099
   */
  readonly port?: number;
  /**
   * Shut down on SIGTERM and SIGINT (a second signal exits at once, with code 1).
   * @default true
   */
  readonly handleSignals?: boolean;
  /**
   * How long to wait for requests in flight before closing their connections, in ms.
   * @default 10000
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * How long closing the audit log and the stores may take on shutdown, in ms, after the
   * requests in flight: one that does not close by then is left behind and reported as an
   * error. The audit log has its own bound (`closeTimeoutMs` of the DecisionLogger, 5000 by
   * default) within this one.
   * @default 10000
   */
  readonly closeTimeoutMs?: number;
}

/** How a shutdown went. */
export interface ShutdownReport {
  /** The signal that asked for it, when one did. */
  readonly signal?: NodeJS.Signals;
  /** Failures while flushing and closing (empty when clean). */
  readonly errors: readonly Error[];
  /** Audit records that could not be written before the store closed. */
  readonly unwrittenRecords: number;
}

/** A listening decision server. */
export interface RunningServer {
  readonly app: FastifyInstance;
  /** `http://host:port` of the first address. */
  readonly url: string;
  readonly port: number;
  /** Shuts down as on SIGTERM (idempotent); resolves with the report. */
  close(): Promise<ShutdownReport>;
  /** Settles when the server has shut down, however that was asked for. */
  readonly closed: Promise<ShutdownReport>;
}

const asError = (e: unknown): Error =>
  e instanceof Error ? e : new GuardrailError(String(e), { code: "non_error_thrown", cause: e });

/**
 * Builds the server, listens, and (by default) shuts down gracefully on SIGTERM/SIGINT.
 * From the moment it is called it owns the Guardian, the audit log and the confirmation
 * store it was given: it closes them on shutdown, or when it cannot start.
 *
 * @throws MissingPeerDependencyError naming every package the server needs that is not
 *   installed (Fastify, its plugins, `prom-client`), as {@link createServer} does.
 *
 * @example
 * ```ts
 * const server = await startServer({ guardian, auditLogger, apiToken, port: 8099 });
 * console.log(`deciding at ${server.url}`);
 * const report = await server.closed; // after SIGTERM
 * process.exitCode = report.errors.length === 0 ? 0 : 1;
 * ```
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  // What the audit log's close() reported: records it could not write.
  let auditUnwritten: number | undefined;
  const closeBackends = async (): Promise<Error[]> => {
    const boundMs = options.closeTimeoutMs ?? 10_000;
    const results = await Promise.allSettled([
      bounded("audit log", boundMs, async () => {
        auditUnwritten = (await options.auditLogger?.close())?.unwritten;
      }),
      bounded("guardian", boundMs, () => options.guardian.close()),
      bounded("confirmation store", boundMs, async () => options.confirmations?.close?.()),
      bounded("API policy store", boundMs, async () => options.apiPolicies?.close()),
      bounded("API key store", boundMs, async () => options.apiKeys?.close()),
    ]);
    return results.flatMap((r) => (r.status === "rejected" ? [asError(r.reason)] : []));
  };
  let app: FastifyInstance;
  let address: string;
  let closing = false;
  try {
    app = await createServer(options);
    // Answers given while shutting down close their connection: a keep-alive connection
    // would otherwise hold the server open until the client hangs up.
    app.addHook("onSend", async (_request, reply, payload) => {
      if (closing) void reply.header("connection", "close");
      return payload;
    });
    address = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8099 });
  } catch (err) {
    await closeBackends();
    throw err;
  }
  const port = (app.server.address() as { port: number }).port;
  const host = options.host ?? "127.0.0.1";
  if (options.allowAnon && options.apiToken === undefined && !isLoopback(host)) {
    app.log.warn(
      { host },
      "ANONYMOUS ACCESS on a non-loopback interface: every host that can reach this port may decide, read the audit log and approve requests",
    );
  }
  app.log.info(
    {
      url: address,
      console: options.ui === false ? null : `${address}/ui/`,
      policies: options.guardian.listPolicies(),
      mode: options.guardian.mode,
    },
    "hexarch-guardrails decision server ready",
  );

  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
  let shutdown: Promise<ShutdownReport> | undefined;
  let resolveClosed: (report: ShutdownReport) => void = () => {};
  const closed = new Promise<ShutdownReport>((done) => {
    resolveClosed = done;
  });
  const close = (signal?: NodeJS.Signals): Promise<ShutdownReport> => {
    shutdown ??= (async () => {
      closing = true;
      app.log.info(
        { signal },
        "shutting down: refusing new connections, finishing requests in flight",
      );
      const timeoutMs = options.shutdownTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        app.log.warn({ timeoutMs }, "requests still in flight: closing their connections");
        app.server.closeAllConnections();
      }, timeoutMs);
      timer.unref();
      const errors: Error[] = [];
      try {
        await app.close();
      } catch (err) {
        errors.push(asError(err));
      } finally {
        clearTimeout(timer);
      }
      errors.push(...(await closeBackends()));
      // What the log took but never wrote: the store failed, or did not answer in time.
      // (Durable records whose write failed were refused to their callers: not counted.)
      const unwrittenRecords = auditUnwritten ?? options.auditLogger?.pending ?? 0;
      if (unwrittenRecords > 0)
        errors.push(
          new GuardrailError(`${unwrittenRecords} audit records could not be written`, {
            code: "audit_records_unwritten",
          }),
        );
      for (const err of errors) app.log.error({ err }, "shutdown: %s", err.message);
      app.log.info({ clean: errors.length === 0 }, "stopped");
      for (const s of signals) process.removeListener(s, onSignal);
      const report: ShutdownReport = {
        ...(signal !== undefined && { signal }),
        errors,
        unwrittenRecords,
      };
      resolveClosed(report);
      return report;
    })();
    return shutdown;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (shutdown !== undefined) {
      app.log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    void close(signal);
  };
  if (options.handleSignals ?? true) for (const s of signals) process.on(s, onSignal);
  return { app, url: address, port, close: () => close(), closed };
}

/** Runs `close`, giving up after `ms` with an error that names what did not close. */
async function bounded(what: string, ms: number, close: () => Promise<unknown>): Promise<void> {
  // A late failure has nobody left to tell: settleWithin swallows it.
  const failure = await settleWithin(
    Promise.resolve().then(close),
    ms,
    () => undefined,
    () =>
      new GuardrailError(`the ${what} did not close within ${ms} ms; left behind`, {
        code: "close_timeout",
      }),
    asError,
  );
  if (failure) throw failure;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
