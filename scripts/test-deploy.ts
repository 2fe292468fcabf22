/**
 * `npm run test:deploy`: builds the decision server's image (deploy/Dockerfile) with podman,
 * brings up the fleet stack (deploy/compose.fleet.yaml: two servers, Redis, PostgreSQL,
 * HAProxy) with podman-compose, checks what a fleet promises through the load balancer, and
 * tears it down; then smoke runs of the embedded and sidecar stacks.
 *
 * No registry is needed: the Debian base is made with `debootstrap --variant=minbase` and
 * `podman import` (kept as `localhost/hexarch-debian:bookworm` and reused), Node.js is the
 * `node` devDependency's binary plus the host's npm, and Redis, PostgreSQL and HAProxy are
 * Debian's packages in one stand-in image (deploy/local/services.Dockerfile).
 *
 * Podman runs with a containers.conf given through `CONTAINERS_CONF` (runc, cgroupfs,
 * ulimits, `init`), as measured on machines without a Docker daemon. When podman cannot be
 * installed or run, this prints `skipped: <why>` and exits 0.
 *
 * Environment: `HEXARCH_DEPLOY_KEEP=1` leaves the stacks up; `HEXARCH_DEPLOY_STACKS`
 * (default `fleet,embedded,sidecar`) picks the stacks.
 *
 * @module
 */

import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEPLOY = join(ROOT, "deploy");
const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "hexarch-deploy");
const BASE_IMAGE = "localhost/hexarch-debian:bookworm";
const SERVICES_IMAGE = "localhost/hexarch-services:bookworm";
const SERVER_IMAGE = "localhost/hexarch-guardrails:test";
const STACKS = (process.env.HEXARCH_DEPLOY_STACKS ?? "fleet,embedded,sidecar").split(",");
const KEEP = process.env.HEXARCH_DEPLOY_KEEP === "1";

const figures: string[] = [];
const failures: string[] = [];
let checks = 0;

function log(line: string): void {
  console.log(`test:deploy: ${line}`);
}
function skip(why: string): never {
  console.log(`test:deploy: skipped: ${why}`);
  process.exit(0);
}
function check(ok: boolean, what: string): void {
  checks++;
  if (ok) log(`ok   ${what}`);
  else {
    failures.push(what);
    log(`FAIL ${what}`);
  }
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): Run {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...options,
    env: { ...process.env, CONTAINERS_CONF: join(CACHE, "containers.conf"), ...options.env },
  });
  return {
    status: r.error ? -1 : r.status,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? r.error?.message ?? ""),
  };
}
function must(cmd: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = run(cmd, args, options);
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${r.status}:\n${(r.stderr || r.stdout).slice(-4000)}`,
    );
  }
  return r.stdout;
}
const seconds = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function has(cmd: string): boolean {
  return run("sh", ["-c", `command -v ${cmd}`]).status === 0;
}
function aptInstall(packages: string[]): boolean {
  if (process.getuid?.() !== 0) return false;
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  if (run("apt-get", ["install", "-y", ...packages], { env }).status === 0) return true;
  run("apt-get", ["update"], { env });
  return run("apt-get", ["install", "-y", ...packages], { env }).status === 0;
}

/** podman + podman-compose + runc + debootstrap, configured through CONTAINERS_CONF. */
function preparePodman(): void {
  const tools = ["podman", "podman-compose", "runc", "debootstrap"];
  const missing = tools.filter((t) => !has(t));
  if (missing.length > 0) {
    log(`installing ${missing.join(", ")} from Debian`);
    if (!aptInstall(["podman", "podman-compose", "runc", "debootstrap", "uidmap"]))
      skip(
        `podman is not installed and could not be (${missing.join(", ")} missing; apt-get needs root)`,
      );
  }
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(
    join(CACHE, "containers.conf"),
    [
      "[containers]",
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      "init = true",
      "[engine]",
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      "",
    ].join("\n"),
  );
  const probe = run("podman", ["info", "--format", "{{.Host.OCIRuntime.Name}}"]);
  if (probe.status !== 0)
    skip(`podman does not run here: ${probe.stderr.trim().split("\n").at(-1)}`);
}

function imageExists(name: string): boolean {
  return run("podman", ["image", "exists", name]).status === 0;
}

/** The Debian base: debootstrap once, then reused. */
function baseImage(): void {
  if (imageExists(BASE_IMAGE)) {
    log(`${BASE_IMAGE}: reused`);
    return;
  }
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "hexarch-rootfs-"));
  try {
    const mirror = process.env.HEXARCH_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
    must("debootstrap", ["--variant=minbase", "bookworm", dir, mirror]);
    rmSync(join(dir, "var/lib/apt/lists"), { recursive: true, force: true });
    rmSync(join(dir, "var/cache/apt/archives"), { recursive: true, force: true });
    mkdirSync(join(dir, "var/cache/apt/archives/partial"), { recursive: true });
    mkdirSync(join(dir, "var/lib/apt/lists/partial"), { recursive: true });
    must("sh", ["-c", `tar -C '${dir}' -c . | podman import - ${BASE_IMAGE}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  figures.push(`base image (debootstrap + import): ${seconds(t0)}`);
}

/** Node.js for both stages: the `node` devDependency's binary and the host's npm. */
function nodeImage(): string {
  const nodeBin = join(ROOT, "node_modules/node/bin/node");
  if (!existsSync(nodeBin)) throw new Error(`no ${nodeBin}: run npm ci first`);
  const version = must(nodeBin, ["--version"]).trim();
  const tag = `localhost/hexarch-node:${version.replace(/^v/, "")}`;
  if (imageExists(tag)) return tag;
  const npmDir = join(must("npm", ["root", "-g"]).trim(), "npm");
  if (!existsSync(npmDir)) throw new Error(`npm not found at ${npmDir}`);
  const ctx = mkdtempSync(join(tmpdir(), "hexarch-node-"));
  try {
    cpSync(nodeBin, join(ctx, "node"));
    cpSync(npmDir, join(ctx, "npm"), { recursive: true });
    cpSync(join(DEPLOY, "local/node.Dockerfile"), join(ctx, "Dockerfile"));
    must("podman", ["build", "-q", "--build-arg", `BASE_IMAGE=${BASE_IMAGE}`, "-t", tag, ctx]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

function servicesImage(): void {
  if (imageExists(SERVICES_IMAGE)) return;
  const t0 = performance.now();
  must("podman", [
    "build",
    "-q",
    "--build-arg",
    `BASE_IMAGE=${BASE_IMAGE}`,
    "-f",
    join(DEPLOY, "local/services.Dockerfile"),
    "-t",
    SERVICES_IMAGE,
    join(DEPLOY, "local"),
  ]);
  figures.push(`services image (Debian redis, postgresql, haproxy): ${seconds(t0)}`);
}

function serverImage(node: string): void {
  const t0 = performance.now();
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  must(
    "podman",
    [
      "build",
      "--format",
      "docker",
      "-f",
      join(DEPLOY, "Dockerfile"),
      "--build-arg",
      `BUILD_IMAGE=${node}`,
      "--build-arg",
      `BASE_IMAGE=${node}`,
      ...(ca && existsSync(ca) ? ["--secret", `id=npm_ca,src=${ca}`] : []),
      "-t",
      SERVER_IMAGE,
      ROOT,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const size = Number(must("podman", ["image", "inspect", "--format", "{{.Size}}", SERVER_IMAGE]));
  figures.push(`server image build: ${seconds(t0)}`);
  figures.push(`server image size: ${(size / 1e6).toFixed(0)} MB (${SERVER_IMAGE})`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  server: string;
}
function client(base: string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed, server: res.headers.get("x-served-by") ?? "" };
  };
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** Down, volumes too; podman-compose 1.0 leaves the project's network behind: removed here. */
function down(file: string, project: string, env: Record<string, string>): void {
  run("podman-compose", ["-f", join(DEPLOY, file), "-p", project, "down", "-v"], { env });
  run("podman", ["network", "rm", "-f", `${project}_default`]);
}

/** podman-compose for one stack, with its project name and environment. */
function compose(file: string, project: string, env: Record<string, string>) {
  return (...args: string[]): string =>
    must("podman-compose", ["-f", join(DEPLOY, file), "-p", project, ...args], { env });
}

async function fleet(): Promise<void> {
  const project = `hexarch-test-fleet-${process.pid}`;
  const port = await freePort();
  const token = randomBytes(24).toString("hex");
  const env = {
    HEXARCH_IMAGE: SERVER_IMAGE,
    HEXARCH_REDIS_IMAGE: SERVICES_IMAGE,
    HEXARCH_POSTGRES_IMAGE: SERVICES_IMAGE,
    HEXARCH_LB_IMAGE: SERVICES_IMAGE,
    HEXARCH_API_TOKEN: token,
    HEXARCH_AUDIT_HMAC_KEY: randomBytes(32).toString("hex"),
    POSTGRES_PASSWORD: randomBytes(16).toString("hex"),
    REDIS_PASSWORD: randomBytes(16).toString("hex"),
    PGADMIN_DEFAULT_PASSWORD: randomBytes(16).toString("hex"),
    HEXARCH_PORT: String(port),
  };
  const pc = compose("compose.fleet.yaml", project, env);
  const container = (service: string) => `${project}_${service}_1`;
  const api = client(`http://127.0.0.1:${port}`, token);
  const t0 = performance.now();
  try {
    // podman-compose 1.0 knows neither profiles nor health conditions: the services are
    // named (pgAdmin left out), and the servers restart until PostgreSQL answers.
    pc("up", "-d", "postgres", "redis", "hexarch-1", "hexarch-2", "lb");
    const seen = new Set<string>();
    await waitFor("both servers healthy behind the load balancer", 120_000, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/health`, {
        signal: AbortSignal.timeout(2000),
      });
      if (r.status === 200) seen.add(r.headers.get("x-served-by") ?? "");
      return seen.has("hexarch-1") && seen.has("hexarch-2");
    });
    figures.push(`fleet stack start (up to both servers healthy): ${seconds(t0)}`);

    // 1. /authorize through the load balancer reaches both servers.
    const servers = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await api("POST", "/authorize", {
        policyId: "safe_delete",
        context: { userId: "lb", operation: "read" },
      });
      if (r.status === 200 && r.body.allowed === true) servers.add(r.server);
    }
    check(
      servers.has("hexarch-1") && servers.has("hexarch-2"),
      `/authorize through the load balancer reached ${[...servers].sort().join(" and ")}`,
    );

    // 2. A rate limit holds exactly across them: 101 calls at 100 a minute, 16 in flight.
    const limit = 100;
    const user = `rl-${randomBytes(4).toString("hex")}`;
    const answers: Answer[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < limit + 1) {
          next++;
          answers.push(
            await api("POST", "/authorize", { policyId: "rate_limit", context: { userId: user } }),
          );
        }
      }),
    );
    const allowed = answers.filter((a) => a.status === 200 && a.body.allowed === true);
    const by = (s: string) => answers.filter((a) => a.server === s).length;
    check(
      allowed.length === limit && answers.length === limit + 1,
      `rate limit ${limit}/min across the fleet: ${answers.length} calls, ${allowed.length} allowed (hexarch-1 answered ${by("hexarch-1")}, hexarch-2 ${by("hexarch-2")})`,
    );
    figures.push(
      `rate limit: ${answers.length} calls for a limit of ${limit}, ${allowed.length} allowed`,
    );

    // 3. A budget settles through a provider-call event on one server, refuses on the other.
    const first = await api("POST", "/authorize", {
      policyId: "llm_budget",
      context: { resource: "openai", cost: 0.01 },
    });
    const event = await api("POST", "/events/provider-calls", {
      resource: "openai",
      action: "chat.completions",
      ok: true,
      model: "gpt-test",
      cost_usd: 9.99,
    });
    let refusal: Answer | undefined;
    for (let i = 0; i < 6 && refusal === undefined; i++) {
      const r = await api("POST", "/authorize", {
        policyId: "llm_budget",
        context: { resource: "openai", cost: 0.01 },
      });
      if (r.server !== event.server && r.server !== "") refusal = r;
    }
    check(
      first.body.allowed === true &&
        event.status === 200 &&
        refusal !== undefined &&
        refusal.body.allowed === false,
      `budget: 0.01 allowed, 9.99 USD settled on ${event.server} (${event.status}), the next 0.01 refused on ${refusal?.server} (${String(refusal?.body.decision)})`,
    );

    // 4. The audit chain verifies from each server.
    const verified = new Map<string, Answer>();
    for (let i = 0; i < 6 && verified.size < 2; i++) {
      const r = await api("GET", "/audit-logs/verify");
      verified.set(r.server, r);
    }
    for (const [server, r] of verified) {
      check(
        r.status === 200 && r.body.ok === true,
        `audit chain verifies from ${server}: ${r.body.checked} records checked`,
      );
    }

    // 5. A server killed and restarted loses no answered decision (--durable).
    const killUser = `kill-${randomBytes(4).toString("hex")}`;
    const answered: string[] = [];
    let failed = 0;
    let sent = 0;
    const total = 400;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (sent < total) {
          sent++;
          try {
            const r = await api("POST", "/authorize", {
              policyId: "safe_delete",
              context: { userId: killUser, operation: "read" },
            });
            if (r.status === 200 && r.body.allowed === true)
              answered.push(String(r.body.decisionId));
            else failed++;
          } catch {
            failed++;
          }
        }
      }),
    );
    await sleep(300);
    must("podman", ["kill", container("hexarch-1")]);
    await load;
    const tRestart = performance.now();
    must("podman", ["start", container("hexarch-1")]);
    const back = new Set<string>();
    await waitFor("hexarch-1 back behind the load balancer", 60_000, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/health`, {
        signal: AbortSignal.timeout(2000),
      });
      if (r.status === 200) back.add(r.headers.get("x-served-by") ?? "");
      return back.has("hexarch-1");
    });
    figures.push(`hexarch-1 restart to healthy: ${seconds(tRestart)}`);
    const trail = await api("GET", `/audit/users/${killUser}/trail?limit=1000`);
    const records = (trail.body.records as { decisionId?: string; id?: string }[]) ?? [];
    const logged = new Set(records.map((r) => r.decisionId ?? r.id));
    const lost = answered.filter((id) => !logged.has(id));
    check(
      lost.length === 0 && answered.length > 0,
      `kill -9 of hexarch-1 under load: ${answered.length} allows answered (${failed} calls failed in flight), ${logged.size} audit records, ${lost.length} answered decisions missing`,
    );
    figures.push(
      `kill test: ${total} calls, ${answered.length} answered allows, ${failed} failed in flight, ${logged.size} audit rows, ${lost.length} lost`,
    );
    const after = await api("GET", "/audit-logs/verify");
    check(
      after.body.ok === true,
      `audit chain verifies after the restart (${after.body.checked} records)`,
    );
  } finally {
    if (KEEP) log(`left up: ${project} (http://127.0.0.1:${port})`);
    else {
      const t1 = performance.now();
      down("compose.fleet.yaml", project, env);
      figures.push(`fleet teardown: ${seconds(t1)}`);
    }
  }
}

async function main(): Promise<void> {
  preparePodman();
  const tAll = performance.now();
  baseImage();
  const node = nodeImage();
  serverImage(node);
  if (STACKS.includes("fleet")) {
    servicesImage();
    await fleet();
  }
  for (const stack of ["embedded", "sidecar"]) {
    if (!STACKS.includes(stack)) continue;
    let opa: string | undefined;
    if (stack === "sidecar") {
      opa = opaImage();
      if (opa === undefined) {
        log("skipped: the sidecar stack (no OPA binary: set HEXARCH_OPA_BIN, or put opa on PATH)");
        continue;
      }
    }
    if (opa !== undefined) regoUpToDate();
    await smoke(stack, opa);
  }
  figures.push(`total: ${seconds(tAll)}`);
  for (const f of figures) log(f);
  if (failures.length > 0) {
    log(`${failures.length} of ${checks} checks failed`);
    process.exit(1);
  }
  log(`${checks} checks passed`);
}

/**
 * A stand-in OPA image: the binary named by HEXARCH_OPA_BIN (`.ci/run` sets it when a peer
 * binary is at hand), else `opa` on PATH, at /opa of the base image.
 */
function opaImage(): string | undefined {
  const tag = "localhost/hexarch-opa:local";
  if (imageExists(tag)) return tag;
  const ctx = mkdtempSync(join(tmpdir(), "hexarch-opa-"));
  try {
    const fromPath = run("sh", ["-c", "command -v opa"]).stdout.trim();
    const bin = process.env.HEXARCH_OPA_BIN ?? (fromPath || undefined);
    if (bin === undefined) return undefined;
    cpSync(bin, join(ctx, "opa"));
    cpSync(join(DEPLOY, "local/opa.Dockerfile"), join(ctx, "Dockerfile"));
    must("podman", ["build", "-q", "--build-arg", `BASE_IMAGE=${BASE_IMAGE}`, "-t", tag, ctx]);
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** deploy/opa/ holds exactly what `policy export --format rego` makes of deploy/hexarch.yaml. */
function regoUpToDate(): void {
  const bin = join(ROOT, "src/cli/bin.ts");
  const file = join(DEPLOY, "hexarch.yaml");
  const ids = [...readFileSync(file, "utf8").matchAll(/^ {2}- id: (\S+)$/gm)].map(
    (m) => m[1] ?? "",
  );
  for (const id of ids) {
    const fresh = must(process.execPath, [
      bin,
      "policy",
      "export",
      id,
      "--format",
      "rego",
      "--policy-file",
      file,
    ]);
    const kept = join(DEPLOY, "opa", `${id}.rego`);
    check(
      existsSync(kept) && readFileSync(kept, "utf8") === fresh,
      `deploy/opa/${id}.rego is the export of deploy/hexarch.yaml's '${id}'`,
    );
  }
}

/** One server's stack up, /health and decisions, down. */
async function smoke(stack: string, opa?: string): Promise<void> {
  const project = `hexarch-test-${stack}-${process.pid}`;
  const port = await freePort();
  const token = randomBytes(24).toString("hex");
  const env: Record<string, string> = {
    HEXARCH_IMAGE: SERVER_IMAGE,
    ...(opa !== undefined && { HEXARCH_OPA_IMAGE: opa }),
    HEXARCH_API_TOKEN: token,
    HEXARCH_PORT: String(port),
  };
  const pc = compose(`compose.${stack}.yaml`, project, env);
  const api = client(`http://127.0.0.1:${port}`, token);
  const t0 = performance.now();
  try {
    pc("up", "-d");
    await waitFor(`the ${stack} stack`, 90_000, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/health`, {
        signal: AbortSignal.timeout(2000),
      });
      return r.status === 200;
    });
    figures.push(`${stack} stack start: ${seconds(t0)}`);
    const r = await api("POST", "/authorize", {
      policyId: "rate_limit",
      context: { userId: "smoke" },
    });
    check(
      r.status === 200 && r.body.allowed === true,
      `${stack}: /authorize answers ${r.body.decision}`,
    );
    const del = await api("POST", "/authorize", {
      policyId: "safe_delete",
      context: { userId: "smoke", operation: "delete" },
    });
    check(
      del.body.action === "require_confirmation" && typeof del.body.confirmationToken === "string",
      `${stack}: a delete needs confirmation (${del.body.action})${opa ? ", decided by OPA" : ""}`,
    );
    const verify = await api("GET", "/audit-logs/verify");
    check(
      verify.body.ok === true,
      `${stack}: the audit chain verifies (${verify.body.checked} records)`,
    );
    if (opa !== undefined) {
      // With OPA stopped, decisions fail closed naming OPA: they were OPA's.
      must("podman", ["stop", "-t", "2", `${project}_opa_1`]);
      const closed = await api("POST", "/authorize", {
        policyId: "safe_delete",
        context: { userId: "smoke", operation: "read" },
      });
      check(
        closed.body.allowed === false && /OPA/.test(String(closed.body.reason)),
        `${stack}: with OPA stopped the server refuses, naming OPA: ${String(closed.body.reason).slice(0, 100)}`,
      );
    }
  } finally {
    if (!KEEP) down(`compose.${stack}.yaml`, project, env);
  }
}

mkdirSync(dirname(CACHE), { recursive: true });
main().catch((err: unknown) => {
  console.error(`test:deploy: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
