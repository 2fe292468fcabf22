/**
 * `hexarch-ctl health`: checks the policy file, the audit store and any configured Redis
 * or OPA; exits 1 when one of them fails. With `--summary`, also the decision totals of the
 * audit log and the policies OPA has loaded (see `health-summary.ts`).
 *
 * @module
 */

import { existsSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { GuardrailError } from "../../kernel/errors.ts";
import { CliError, silentExit } from "../errors.ts";
import { type CliIo, jsonText, outputWidth, painter, renderTable } from "../output.ts";
import { loadFile } from "../policy-file.ts";
import {
  describeStore,
  openStore,
  redactUrl,
  type StoreFlags,
  withLogger,
  withStoreOptions,
} from "../store-options.ts";
import {
  type DecisionTotals,
  decisionTotals,
  nameList,
  opaPolicyIds,
  opaRequest,
  renderTotals,
  totalsLine,
} from "./health-summary.ts";

/** One check's outcome. */
interface Check {
  readonly check: string;
  readonly status: "ok" | "warn" | "fail";
  readonly detail: string;
}

const TIMEOUT_MS = 2000;

/** Sends Redis a PING over plain RESP and waits for PONG (no client library needed). */
export function pingRedis(url: string): Promise<string> {
  const u = new URL(url);
  if (u.protocol !== "redis:")
    throw new GuardrailError(`only redis:// URLs are checked, not ${u.protocol}`, {
      code: "health_check_failed",
    });
  return new Promise((done, fail) => {
    const socket = connect({ host: u.hostname || "127.0.0.1", port: Number(u.port || 6379) });
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new GuardrailError(`no answer within ${TIMEOUT_MS} ms`, { code: "timed_out" }));
    }, TIMEOUT_MS);
    let reply = "";
    socket.on("connect", () => {
      const auth = u.password
        ? `AUTH ${u.username ? `${decodeURIComponent(u.username)} ` : ""}${decodeURIComponent(u.password)}\r\n`
        : "";
      socket.write(`${auth}PING\r\n`);
    });
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("+PONG") || reply.startsWith("-")) {
        clearTimeout(timer);
        socket.end();
        if (reply.includes("+PONG")) done("PONG");
        else
          fail(
            new GuardrailError(reply.split("\r\n")[0]?.slice(1) ?? "", {
              code: "health_check_failed",
            }),
          );
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
}

async function checkOpa(url: string): Promise<string> {
  const { href, headers } = opaRequest(url, "/health");
  const res = await fetch(href, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok)
    throw new GuardrailError(`GET /health answered ${res.status}`, { code: "health_check_failed" });
  return `GET /health answered ${res.status}`;
}

const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Registers `health` on the program. */
export function healthCommand(program: Command, io: CliIo): void {
  withStoreOptions(
    program
      .command("health")
      .description("check the policy file, the audit store and any configured Redis or OPA")
      .option("--policy-file <file>", "policy file (default: the one the library would load)")
      .addOption(new Option("--redis-url <url>", "Redis to check").env("HEXARCH_REDIS_URL"))
      .addOption(
        new Option(
          "--opa-url <url>",
          "OPA to check (default: HEXARCH_POLICY_OPA_URL, OPA_URL, else opa.url of the policy file)",
        ),
      )
      .addOption(
        new Option("--format <format>", "output format")
          .choices(["table", "json"])
          .default("table"),
      )
      .option(
        "--summary",
        "also the decision totals of the audit log (total, blocked, % allowed, per policy) and the policies OPA has loaded",
      )
      .option("--json", "same as --format json"),
  )
    .addHelpText(
      "after",
      `
Exits 1 when a check fails, so it fits a deploy script or a container health check.
--summary adds what the Python package's healthcheck.py --summary prints: the decisions
in the audit store (read like audit stats: --db, --pg-url…) and, with an OPA URL, the
policies OPA has loaded (GET /v1/policies). With --json the answer is then
{ checks, decisions, opaPolicies } instead of the list of checks.

Examples:
  $ hexarch-ctl health
  $ hexarch-ctl health --pg-url $HEXARCH_PG_URL --redis-url redis://127.0.0.1:6379
  $ hexarch-ctl health --summary --opa-url http://127.0.0.1:8181
  $ hexarch-ctl health --summary --json | jq .decisions.allowedPct`,
    )
    .action(
      async (
        flags: StoreFlags & {
          policyFile?: string;
          redisUrl?: string;
          opaUrl?: string;
          format: "table" | "json";
          summary?: boolean;
          json?: boolean;
        },
      ) => {
        const format = flags.json ? "json" : flags.format;
        const checks: Check[] = [];
        let opaUrl = flags.opaUrl ?? (io.env.HEXARCH_POLICY_OPA_URL || io.env.OPA_URL || undefined);
        try {
          const file = loadFile(flags.policyFile, io);
          opaUrl ??= file.set.opa?.url;
          checks.push({
            check: "policy file",
            status: "ok",
            detail: `${file.set.source}: ${file.set.policies.length} ${file.set.policies.length === 1 ? "policy" : "policies"}`,
          });
        } catch (err) {
          checks.push({ check: "policy file", status: "fail", detail: why(err) });
        }
        const store = await checkStore(flags, io);
        checks.push(store);
        if (flags.redisUrl) {
          try {
            await pingRedis(flags.redisUrl);
            checks.push({
              check: "redis",
              status: "ok",
              detail: `${redactUrl(flags.redisUrl)} answered PING`,
            });
          } catch (err) {
            checks.push({
              check: "redis",
              status: "fail",
              detail: `${redactUrl(flags.redisUrl)}: ${why(err)}`,
            });
          }
        }
        if (opaUrl) {
          try {
            checks.push({
              check: "opa",
              status: "ok",
              detail: `${redactUrl(opaUrl)}: ${await checkOpa(opaUrl)}`,
            });
          } catch (err) {
            checks.push({
              check: "opa",
              status: "fail",
              detail: `${redactUrl(opaUrl)}: ${why(err)}`,
            });
          }
        }
        let decisions: DecisionTotals | null = null;
        let opaPolicies: string[] | null = null;
        if (flags.summary) {
          const read = await readTotals(flags, io, store);
          decisions = read.totals;
          if (read.check) checks.push(read.check);
          // Only an OPA that answered its health check is asked (one failure, one row).
          if (opaUrl && checks.some((c) => c.check === "opa" && c.status === "ok")) {
            const where = redactUrl(opaUrl);
            try {
              opaPolicies = await opaPolicyIds(opaUrl, TIMEOUT_MS);
              checks.push(
                opaPolicies.length > 0
                  ? {
                      check: "opa policies",
                      status: "ok",
                      detail: `${opaPolicies.length} ${opaPolicies.length === 1 ? "policy" : "policies"} loaded (${nameList(opaPolicies)})`,
                    }
                  : {
                      check: "opa policies",
                      status: "warn",
                      detail: `${where}: no policies loaded`,
                    },
              );
            } catch (err) {
              checks.push({
                check: "opa policies",
                status: "fail",
                detail: `${where}: ${why(err)}`,
              });
            }
          }
        }
        if (format === "json")
          io.stdout.write(jsonText(flags.summary ? { checks, decisions, opaPolicies } : checks));
        else {
          const paint = painter(io.stdout, io.env);
          io.stdout.write(
            renderTable(
              checks,
              [
                { header: "CHECK", value: (c) => c.check },
                {
                  header: "STATUS",
                  value: (c) => c.status,
                  tone: (c) =>
                    c.status === "ok" ? "green" : c.status === "warn" ? "yellow" : "red",
                },
                { header: "DETAIL", value: (c) => c.detail, shrink: 1 },
              ],
              outputWidth(io.stdout, io.env),
              paint,
            ),
          );
          if (decisions) io.stdout.write(renderTotals(decisions, io));
        }
        if (checks.some((c) => c.status === "fail")) throw silentExit(1);
      },
    );
}

/**
 * The decision totals for `--summary`, and the `decisions` check row: none when the store
 * check failed (it says why), zero totals when the SQLite file does not exist yet. A store
 * that cannot be read fails the check, or warns when the store check already warned
 * (pending migrations).
 */
async function readTotals(
  flags: StoreFlags,
  io: CliIo,
  store: Check,
): Promise<{ totals: DecisionTotals | null; check?: Check }> {
  if (store.status === "fail") return { totals: null };
  const sqlite = !flags.pgUrl && !flags.pgHost;
  if (sqlite && !existsSync(resolve(io.cwd, flags.db ?? "decisions.db"))) {
    const totals = { total: 0, allowed: 0, warned: 0, blocked: 0, allowedPct: 0, policies: [] };
    return { totals, check: { check: "decisions", status: "ok", detail: totalsLine(totals) } };
  }
  try {
    const totals = await withLogger(flags, io, { mustExist: sqlite }, decisionTotals);
    return { totals, check: { check: "decisions", status: "ok", detail: totalsLine(totals) } };
  } catch (err) {
    return {
      totals: null,
      check: {
        check: "decisions",
        status: store.status === "warn" ? "warn" : "fail",
        detail: `cannot count decisions: ${why(err)}`,
      },
    };
  }
}

async function checkStore(flags: StoreFlags, io: CliIo): Promise<Check> {
  const where = describeStore(flags, io);
  const sqlite = !flags.pgUrl && !flags.pgHost;
  if (sqlite && !existsSync(resolve(io.cwd, flags.db ?? "decisions.db"))) {
    return {
      check: "audit store",
      status: "warn",
      detail: `${where} does not exist yet (made on first write)`,
    };
  }
  try {
    const store = await openStore(flags, io, { mustExist: sqlite });
    try {
      const status = await Promise.race([
        store.migrationStatus(),
        new Promise<never>((_, fail) =>
          setTimeout(
            () =>
              fail(new GuardrailError(`no answer within ${TIMEOUT_MS} ms`, { code: "timed_out" })),
            TIMEOUT_MS,
          ).unref(),
        ),
      ]);
      const pending = status.filter((m) => m.appliedAt === null).length;
      return pending === 0
        ? { check: "audit store", status: "ok", detail: `${where}: schema up to date` }
        : {
            check: "audit store",
            status: "warn",
            detail: `${where}: ${pending} pending migrations (applied on first write, or run hexarch-ctl db migrate)`,
          };
    } finally {
      await store.close().catch(() => {});
    }
  } catch (err) {
    return {
      check: "audit store",
      status: "fail",
      detail: `${where}: ${err instanceof CliError ? err.message : why(err)}`,
    };
  }
}
