/**
 * Which audit store a command talks to: SQLite by default (`--db`, `HEXARCH_AUDIT_DB`,
 * else `./decisions.db`), PostgreSQL with `--pg-url`/`HEXARCH_PG_URL` or
 * `--pg-host`/`--pg-database`/`--pg-user` (password from `PGPASSWORD`).
 *
 * @module
 */

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type { ApiKeyStore } from "../api-keys/types.ts";
import type { ApiPolicyStore } from "../api-policies/types.ts";
import type { AuditCheckpointStore } from "../audit/checkpoints/types.ts";
import { DecisionLogger } from "../audit/decision-logger.ts";
import type { AuditStore } from "../audit/types.ts";
import type { ConfirmationStore } from "../confirm/types.ts";
import type { PgConnectionConfig } from "../postgres/connection.ts";
import { CliError, isInvalidArgument, usageError } from "./errors.ts";
import type { CliIo } from "./output.ts";

/** The store flags as commander parses them. */
export interface StoreFlags {
  readonly db?: string;
  readonly pgUrl?: string;
  readonly pgHost?: string;
  readonly pgPort?: string;
  readonly pgDatabase?: string;
  readonly pgUser?: string;
  readonly pgSchema?: string;
}

/** Adds the store flags to a command. */
export function withStoreOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--db <file>", "SQLite audit database (default: ./decisions.db)").env(
        "HEXARCH_AUDIT_DB",
      ),
    )
    .addOption(
      new Option("--pg-url <url>", "PostgreSQL connection string instead of SQLite").env(
        "HEXARCH_PG_URL",
      ),
    )
    .option("--pg-host <host>", "PostgreSQL host (password from PGPASSWORD)")
    .option("--pg-port <port>", "PostgreSQL port", "5432")
    .option("--pg-database <name>", "PostgreSQL database")
    .option("--pg-user <name>", "PostgreSQL user")
    .option("--pg-schema <name>", "PostgreSQL schema of the audit tables", "public");
}

/** Where the store is, for messages: never a password. */
export function describeStore(flags: StoreFlags, io: CliIo): string {
  if (flags.pgUrl) return redactUrl(flags.pgUrl);
  if (flags.pgHost)
    return `postgres://${flags.pgUser ?? ""}${flags.pgUser ? "@" : ""}${flags.pgHost}:${flags.pgPort ?? 5432}/${flags.pgDatabase ?? ""}`;
  return sqlitePath(flags, io);
}

/** A connection string with its password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unparsable connection string)";
  }
}

const sqlitePath = (flags: StoreFlags, io: CliIo): string =>
  resolve(io.cwd, flags.db ?? "decisions.db");

/** The PostgreSQL the flags name (a URL or parts), or `undefined` for SQLite. */
function pgTarget(flags: StoreFlags, io: CliIo): string | PgConnectionConfig | undefined {
  if (!flags.pgUrl && !flags.pgHost) return undefined;
  if (flags.pgUrl && flags.pgHost) {
    throw usageError("give either --pg-url or --pg-host, not both");
  }
  if (flags.pgUrl) return flags.pgUrl;
  if (!flags.pgDatabase || !flags.pgUser) {
    throw usageError(
      "--pg-host needs --pg-database and --pg-user",
      "the password comes from the PGPASSWORD environment variable",
    );
  }
  const port = Number(flags.pgPort ?? 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`--pg-port must be a port number, not '${flags.pgPort}'`);
  }
  return {
    host: flags.pgHost as string,
    port,
    database: flags.pgDatabase,
    user: flags.pgUser,
    ...(io.env.PGPASSWORD !== undefined && { password: io.env.PGPASSWORD }),
  };
}

/**
 * Opens the audit store the flags name. `mustExist`: a SQLite file that is not there is
 * an error (reading commands should not create empty logs). `worker`: a SQLite store
 * writes on a worker thread (for the server; commands write on their own thread).
 */
export async function openStore(
  flags: StoreFlags,
  io: CliIo,
  options: { mustExist: boolean; worker?: boolean },
): Promise<AuditStore> {
  const pg = pgTarget(flags, io);
  if (pg !== undefined) {
    const { PostgresAuditStore } = await import("../postgres/audit-store.ts");
    return new PostgresAuditStore(pg, { schema: flags.pgSchema ?? "public" });
  }
  const path = sqlitePath(flags, io);
  if (options.mustExist && !existsSync(path)) {
    throw new CliError(`no audit log at ${path}`, {
      hint: "run `npm run demo` to make one, or point --db / HEXARCH_AUDIT_DB at your log",
    });
  }
  const { SqliteAuditStore } = await import("../sqlite/audit-store.ts");
  try {
    return new SqliteAuditStore(path, { worker: options.worker ?? false });
  } catch (err) {
    throw new CliError(`cannot open the SQLite audit log at ${path}: ${(err as Error).message}`, {
      hint: "check the path and its permissions",
    });
  }
}

/**
 * Opens a confirmation store in the audit database the flags name: the same SQLite file
 * (`SqliteConfirmationStore`) or PostgreSQL database (`PostgresConfirmationStore`).
 */
export async function openConfirmationStore(
  flags: StoreFlags,
  io: CliIo,
): Promise<ConfirmationStore> {
  const pg = pgTarget(flags, io);
  if (pg !== undefined) {
    const { PostgresConfirmationStore } = await import("../postgres/confirmation-store.ts");
    return new PostgresConfirmationStore(pg, { schema: flags.pgSchema ?? "public" });
  }
  const path = sqlitePath(flags, io);
  const { SqliteConfirmationStore } = await import("../sqlite/confirmation-store.ts");
  try {
    return new SqliteConfirmationStore(path);
  } catch (err) {
    throw new CliError(`cannot open confirmations in ${path}: ${(err as Error).message}`, {
      hint: "check the path and its permissions",
    });
  }
}

/** The store of API-defined rules and policies, in the audit database the flags name. */
export async function openApiPolicyStore(flags: StoreFlags, io: CliIo): Promise<ApiPolicyStore> {
  const pg = pgTarget(flags, io);
  if (pg !== undefined) {
    const { PostgresApiPolicyStore } = await import("../postgres/api-policy-store.ts");
    return new PostgresApiPolicyStore(pg, { schema: flags.pgSchema ?? "public" });
  }
  const path = sqlitePath(flags, io);
  const { SqliteApiPolicyStore } = await import("../sqlite/api-policy-store.ts");
  try {
    return new SqliteApiPolicyStore(path);
  } catch (err) {
    throw new CliError(`cannot open API policies in ${path}: ${(err as Error).message}`, {
      hint: "check the path and its permissions",
    });
  }
}

/** The store of signed audit checkpoints, in the audit database the flags name. */
export async function openCheckpointStore(
  flags: StoreFlags,
  io: CliIo,
): Promise<AuditCheckpointStore> {
  const pg = pgTarget(flags, io);
  if (pg !== undefined) {
    const { PostgresAuditCheckpointStore } = await import("../postgres/checkpoint-store.ts");
    return new PostgresAuditCheckpointStore(pg, { schema: flags.pgSchema ?? "public" });
  }
  const path = sqlitePath(flags, io);
  const { SqliteAuditCheckpointStore } = await import("../sqlite/checkpoint-store.ts");
  try {
    return new SqliteAuditCheckpointStore(path);
  } catch (err) {
    throw new CliError(`cannot open audit checkpoints in ${path}: ${(err as Error).message}`, {
      hint: "check the path and its permissions",
    });
  }
}

/**
 * The API key store in the audit database the flags name, hashing under
 * `HEXARCH_API_KEY_PEPPER` when it is set.
 */
export async function openApiKeyStore(flags: StoreFlags, io: CliIo): Promise<ApiKeyStore> {
  const pepper = io.env.HEXARCH_API_KEY_PEPPER?.trim() || undefined;
  const pg = pgTarget(flags, io);
  try {
    if (pg !== undefined) {
      const { PostgresApiKeyStore } = await import("../postgres/api-key-store.ts");
      return new PostgresApiKeyStore(pg, {
        schema: flags.pgSchema ?? "public",
        ...(pepper !== undefined && { pepper }),
      });
    }
    const { SqliteApiKeyStore } = await import("../sqlite/api-key-store.ts");
    return new SqliteApiKeyStore(sqlitePath(flags, io), {
      ...(pepper !== undefined && { pepper }),
    });
  } catch (err) {
    throw usageError(`cannot open the API key store: ${(err as Error).message}`);
  }
}

/**
 * Runs `fn` with a logger over the flags' store and closes it after, turning store
 * failures (a server that is down, a schema that will not migrate) into one clear line.
 */
export async function withLogger<T>(
  flags: StoreFlags,
  io: CliIo,
  options: { mustExist: boolean },
  fn: (logger: DecisionLogger) => Promise<T>,
): Promise<T> {
  const store = await openStore(flags, io, options);
  const logger = new DecisionLogger(store, {
    exitHooks: false,
    onError: () => {},
  });
  try {
    return await fn(logger);
  } catch (err) {
    throw storeError(err, flags, io);
  } finally {
    await logger.close().catch(() => {});
  }
}

/** A store failure as a CLI error naming the store (passes CLI errors through). */
export function storeError(err: unknown, flags: StoreFlags, io: CliIo): unknown {
  if (err instanceof CliError || err instanceof RangeError || isInvalidArgument(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const where = describeStore(flags, io);
  return new CliError(`the audit store at ${where} failed: ${message}`, {
    hint:
      flags.pgUrl || flags.pgHost
        ? "is PostgreSQL running and reachable? check the URL, user and PGPASSWORD"
        : "is the file a hexarch audit database? `hexarch-ctl db status` shows its migrations",
    cause: err,
  });
}
