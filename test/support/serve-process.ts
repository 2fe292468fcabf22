/**
 * The real `hexarch-ctl serve api` as a child process, for the tests that need the binary
 * (signals, exit codes, flags and environment as an operator gives them): started with a
 * clean environment, waited for until it listens, its output kept for the assertions.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { afterEach } from "vitest";
import { BIN } from "./cli-fixtures.ts";

/** A `serve api` process: what it wrote so far, and its exit code once it exits. */
export interface ServeProcess {
  readonly proc: ChildProcess;
  /** Everything the process wrote so far. */
  readonly out: { stdout: string; stderr: string };
  /** The exit code (`null` when a signal ended it). */
  readonly exited: Promise<number | null>;
}

/** A `serve api` process that listens. */
export interface ListeningServe extends ServeProcess {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
}

/** Where to start the binary. */
export interface ServeOptions {
  readonly cwd: string;
  /** Added to this process's environment, whose own `HEXARCH_*` variables are left out. */
  readonly env?: Readonly<Record<string, string>>;
  /** The process is pushed here as soon as it is spawned, so a failed start can be killed. */
  readonly children: ChildProcess[];
}

/** This process's environment without `HEXARCH_*` (a developer's settings must not leak in), plus `extra`. */
export function serveEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("HEXARCH_")) env[k] = v;
  return { ...env, ...extra };
}

/** A list of processes that are killed (SIGKILL) after each test if they still run. */
export function killAfterEach(): ChildProcess[] {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  return children;
}

/** Spawns `hexarch-ctl serve api --port <port> ...args` without waiting for it. */
export function spawnServe(args: readonly string[], options: ServeOptions, port = 0): ServeProcess {
  const proc = spawn(process.execPath, [BIN, "serve", "api", "--port", String(port), ...args], {
    cwd: options.cwd,
    env: serveEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.children.push(proc);
  const out = { stdout: "", stderr: "" };
  proc.stdout?.setEncoding("utf8").on("data", (s: string) => (out.stdout += s));
  proc.stderr?.setEncoding("utf8").on("data", (s: string) => (out.stderr += s));
  const exited = new Promise<number | null>((done) => proc.on("exit", (code) => done(code)));
  return { proc, out, exited };
}

const START_TIMEOUT_MS = 15_000;

/**
 * Starts `serve api` on a free port and waits until it listens: by its `Server listening at`
 * line, or, with `waitFor: "health"` (for a server that logs no address, e.g. at
 * `--log-level warn`), by polling `GET /health` on a port picked beforehand.
 *
 * @throws Error with the process's output when it exits first or is not listening in 15 s.
 */
export async function serveApi(
  args: readonly string[],
  options: ServeOptions & { readonly waitFor?: "log" | "health" },
): Promise<ListeningServe> {
  if (options.waitFor === "health") {
    const port = await freePort();
    const started = spawnServe(args, options, port);
    const url = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    for (;;) {
      if (started.proc.exitCode !== null) throw new Error(`exited:\n${output(started)}`);
      if (performance.now() - t0 > START_TIMEOUT_MS)
        throw new Error(`not listening:\n${output(started)}`);
      const up = await fetch(`${url}/health`).then(
        () => true,
        () => false,
      );
      if (up) return { ...started, url };
      await new Promise((done) => setTimeout(done, 50));
    }
  }
  const started = spawnServe(args, options);
  const { proc, out } = started;
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`no listening line:\n${output(started)}`)),
      START_TIMEOUT_MS,
    );
    proc.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`exited with ${code}:\n${output(started)}`));
    });
    // Registered after spawnServe's collector, so `out.stdout` already holds the chunk.
    proc.stdout?.on("data", () => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out.stdout);
      if (m) {
        clearTimeout(timer);
        done(m[1] as string);
      }
    });
  });
  return { ...started, url };
}

const output = ({ out }: ServeProcess) => `${out.stdout}\n${out.stderr}`;

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const port = (probe.address() as { port: number }).port;
  await new Promise((done) => probe.close(done));
  return port;
}
