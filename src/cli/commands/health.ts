/**
 * `hexarch-ctl health`: checks the policy file, the audit store and any configured Redis
 * or OPA; exits 1 when one of them fails.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { CliError, silentExit } from "../errors.ts";
import { type CliIo, jsonText, outputWidth, painter, renderTable } from "../output.ts";
import { loadFile } from "../policy-file.ts";
import {
  describeStore,
  openStore,
  redactUrl,
  type StoreFlags,
  withStoreOptions,
} from "../store-options.ts";

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
  if (u.protocol !== "redis:") throw new Error(`only redis:// URLs are checked, not ${u.protocol}`);
  return new Promise((done, fail) => {
    const socket = connect({ host: u.hostname || "127.0.0.1", port: Number(u.port || 6379) });
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no answer within ${TIMEOUT_MS} ms`));
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
        else fail(new Error(reply.split("\r\n")[0]?.slice(1)));
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
}

async function checkOpa(url: string): Promise<string> {
  const res = await fetch(new URL("/health", url), { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET /health answered ${res.status}`);
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
      ),
  )
    .addHelpText(
      "after",
      "\nExits 1 when a check fails, so it fits a deploy script or a container health check.\n\nExamples:\n  $ hexarch-ctl health\n  $ hexarch-ctl health --pg-url $HEXARCH_PG_URL --redis-url redis://127.0.0.1:6379",
    )
    .action(
      async (
        flags: StoreFlags & {
          policyFile?: string;
          redisUrl?: string;
          opaUrl?: string;
          format: "table" | "json";
        },
      ) => {
        const checks: Check[] = [];
        let opaUrl = flags.opaUrl ?? (io.env.HEXARCH_POLICY_OPA_URL || io.env.OPA_URL || undefined);
        try {
          const file = loadFile(flags.policyFile, io);
          opaUrl ??= file.set.opa?.url;
          checks.push({
            check: "policy file",
            status: "ok",
            detail: `${file.set.source}: ${file.set.policies.length} policies`,
          });
        } catch (err) {
          checks.push({ check: "policy file", status: "fail", detail: why(err) });
        }
        checks.push(await checkStore(flags, io));
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
        if (flags.format === "json") io.stdout.write(jsonText(checks));
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
        }
        if (checks.some((c) => c.status === "fail")) throw silentExit(1);
      },
    );
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
            () => fail(new Error(`no answer within ${TIMEOUT_MS} ms`)),
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
