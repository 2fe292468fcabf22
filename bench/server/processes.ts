/**
 * The two servers of the server benchmark as child processes: `hexarch-ctl serve api` (the
 * real binary) and the Cerbos PDP from `@cerbos/cerbos-linux-x64`, each in a temporary
 * directory, each stopped with SIGTERM (SIGKILL when it does not stop).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_POLICIES } from "../workload.ts";
import { CERBOS_POLICY } from "./workload.ts";

const BIN = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const CERBOS = fileURLToPath(
  new URL("../../node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64", import.meta.url),
);

/** A server child process. */
export interface Child {
  readonly name: string;
  readonly url: string;
  readonly proc: ChildProcess;
  /** Its standard output and error, written to this file. */
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code (null when killed). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** A free TCP port on 127.0.0.1 (free when asked; the child binds it moments later). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** The environment without HEXARCH_* variables, plus `extra`. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("HEXARCH_")) out[k] = v;
  return { ...out, ...extra };
}

function launch(
  name: string,
  url: string,
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; logFile: string },
): Child {
  const fd = openSync(options.logFile, "a");
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((done) => {
    if (proc.exitCode !== null) done(proc.exitCode);
    else proc.once("exit", (code) => done(code));
  });
  let stopping: Promise<number | null> | undefined;
  return {
    name,
    url,
    proc,
    logFile: options.logFile,
    stop(timeoutMs = 30_000) {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      })();
      return stopping;
    },
  };
}

/** Polls `url` until it answers 200 (or the child exits, or 30 s pass). */
async function waitReady(child: Child, path: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.proc.exitCode !== null) break;
    try {
      const res = await fetch(`${child.url}${path}`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) break;
    await new Promise((done) => setTimeout(done, 50));
  }
  await child.stop(1000);
  throw new Error(
    `${child.name} did not become ready at ${child.url}${path}:\n${readFileSync(child.logFile, "utf8").slice(-4000)}`,
  );
}

/** Options of {@link startHexarch}. */
export interface HexarchOptions {
  readonly dir: string;
  readonly token: string;
  readonly logLevel: string;
  /** Directory for `--cpu-prof` output; no profile without it. */
  readonly profileDir?: string;
}

/**
 * `node src/cli/bin.ts serve api` with the README's three policies (the rate limit per
 * user), counters in memory, the audit log in SQLite (`<dir>/decisions.db`, migrated at
 * start), the HTTP rate limiter on but far above the load, and the given log level.
 */
export async function startHexarch(options: HexarchOptions): Promise<Child> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "hexarch.yaml"), BENCH_POLICIES);
  const port = await freePort();
  const nodeArgs = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = launch(
    "hexarch-guardrails",
    `http://127.0.0.1:${port}`,
    process.execPath,
    [
      ...nodeArgs,
      BIN,
      "serve",
      "api",
      "--port",
      String(port),
      "--policy-file",
      join(dir, "hexarch.yaml"),
      "--db",
      join(dir, "decisions.db"),
      "--init-db",
      "--rate-limit",
      "1000000000",
      "--log-level",
      options.logLevel,
    ],
    {
      cwd: dir,
      env: cleanEnv({ HEXARCH_API_TOKEN: options.token }),
      logFile: join(dir, "server.log"),
    },
  );
  await waitReady(child, "/health");
  return child;
}

/**
 * The Cerbos PDP with a disk policy store holding {@link CERBOS_POLICY}, HTTP on a free
 * port, gRPC on another, audit and telemetry off. Cerbos's levels are `debug`, `info`
 * (its default, a line per request handled), `warn` and `error`; others become `warn`.
 */
export async function startCerbos(dir: string, logLevel: string): Promise<Child> {
  mkdirSync(join(dir, "policies"), { recursive: true });
  writeFileSync(join(dir, "policies", "document.yaml"), CERBOS_POLICY);
  const [http, grpc] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, "cerbos.yaml"),
    `server:
  httpListenAddr: "127.0.0.1:${http}"
  grpcListenAddr: "127.0.0.1:${grpc}"
storage:
  driver: disk
  disk:
    directory: ${JSON.stringify(join(dir, "policies"))}
    watchForChanges: false
audit:
  enabled: false
telemetry:
  disabled: true
`,
  );
  const child = launch(
    "cerbos",
    `http://127.0.0.1:${http}`,
    CERBOS,
    [
      "server",
      `--config=${join(dir, "cerbos.yaml")}`,
      `--log-level=${["debug", "info", "warn", "error"].includes(logLevel) ? logLevel : "warn"}`,
    ],
    {
      cwd: dir,
      env: cleanEnv({ CERBOS_NO_TELEMETRY: "1" }),
      logFile: join(dir, "cerbos.log"),
    },
  );
  await waitReady(child, "/_cerbos/health");
  return child;
}
