/**
 * `--start-server`: `hexarch-ctl serve api` as a child process on a fresh SQLite file in a
 * temporary folder, with a random token, its output written to `server.log`.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "../errors.ts";

/** A started server. */
export interface StartedServer {
  readonly baseUrl: string;
  readonly token: string;
  /** Stops it (SIGTERM, then SIGKILL after 8 s), closes its log and removes its database. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;

/** The `hexarch-ctl` entry to start: the source's `bin.ts`, or the build's `bin.js`. */
function binPath(): string {
  const candidates = [
    new URL("../bin.ts", import.meta.url), // src/cli/eval/server.ts
    new URL("./cli/bin.js", import.meta.url), // a chunk in dist/
    new URL("../cli/bin.js", import.meta.url),
    new URL("../bin.js", import.meta.url),
  ].map((u) => fileURLToPath(u));
  const argv1 = process.argv[1];
  if (argv1 && /[\\/]bin\.[jt]s$/.test(argv1)) candidates.push(argv1);
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new CliError("cannot find hexarch-ctl's own entry to start the server", {
      hint: "reinstall hexarch-guardrails, or start `hexarch-ctl serve api` yourself and pass --url",
    });
  return found;
}

/**
 * Starts the server and waits for its `Server listening at` line.
 *
 * @param policyFile absolute path, or undefined for API-defined policies only.
 * @param env the caller's environment; its `HEXARCH_*` variables are left out, so the
 *   server is isolated like the Python harness's.
 * @param onStarting given the stop function as soon as the process is spawned.
 */
export async function startServer(
  policyFile: string | undefined,
  logPath: string,
  env: NodeJS.ProcessEnv,
  onStarting?: (stop: () => Promise<void>) => void,
): Promise<StartedServer> {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-eval-"));
  const token = randomBytes(24).toString("hex");
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && !k.startsWith("HEXARCH_")) childEnv[k] = v;
  childEnv.HEXARCH_API_TOKEN = token;
  const args = [
    binPath(),
    "serve",
    "api",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--db",
    join(dir, "eval.db"),
    "--init-db",
    "--rate-limit",
    "0",
    "--no-ui",
    ...(policyFile ? ["--policy-file", policyFile] : []),
  ];
  const log = createWriteStream(logPath);
  const proc: ChildProcess = spawn(process.execPath, args, {
    cwd: dir,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    log.write(s);
  });
  proc.stderr?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    log.write(s);
  });
  const exited = new Promise<number | null>((done) => proc.on("exit", (code) => done(code)));
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= stopAndRemove();
    return cleaning;
  };
  const stopAndRemove = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 8_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((done) => log.end(done));
    rmSync(dir, { recursive: true, force: true });
  };
  // The caller can stop it even before it listens (a signal while it starts).
  onStarting?.(cleanup);
  try {
    const baseUrl = await new Promise<string>((done, fail) => {
      const timer = setTimeout(
        () => fail(new CliError(`not listening after ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
      proc.on("error", (err) => {
        clearTimeout(timer);
        fail(err);
      });
      proc.on("exit", (code) => {
        clearTimeout(timer);
        fail(new CliError(`it exited with code ${code}`));
      });
      proc.stdout?.on("data", () => {
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          done(m[1] as string);
        }
      });
    });
    return { baseUrl, token, stop: cleanup };
  } catch (err) {
    await cleanup();
    const tail = out.trim().split("\n").slice(-5).join("\n");
    throw new CliError(
      `the server did not start: ${(err as Error).message}${tail ? `\n${tail}` : ""}`,
      {
        hint: `its output is in ${logPath}`,
      },
    );
  }
}
