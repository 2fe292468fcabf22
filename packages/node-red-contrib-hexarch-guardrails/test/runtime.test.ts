/**
 * A real Node-RED (its `red.js`, a child process) with this package installed in its user
 * directory the way npm installs it: the package's example flow is deployed through the
 * admin API with the token as a credential, and HTTP requests to the flow come back routed
 * by the decision server's answers.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_DIR, type Server, startServer, TOKEN } from "./support.ts";

const require = createRequire(import.meta.url);
const RED_JS = require.resolve("node-red/red.js");
const CREDENTIAL_SECRET = "node-red-test-credential-secret";

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return port;
}

interface NodeRed {
  readonly url: string;
  readonly userDir: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
}

/** Starts Node-RED with this package linked into `<userDir>/node_modules`, as `npm install` puts it. */
async function startNodeRed(): Promise<NodeRed> {
  const userDir = mkdtempSync(join(tmpdir(), "hexarch-node-red-user-"));
  mkdirSync(join(userDir, "node_modules"));
  symlinkSync(
    PACKAGE_DIR,
    join(userDir, "node_modules", "node-red-contrib-hexarch-guardrails"),
    "dir",
  );
  const port = await freePort();
  const settings = join(userDir, "settings.js");
  writeFileSync(
    settings,
    `module.exports = ${JSON.stringify({
      uiHost: "127.0.0.1",
      uiPort: port,
      flowFile: "flows.json",
      credentialSecret: CREDENTIAL_SECRET,
      logging: { console: { level: "warn", metrics: false, audit: false } },
      editorTheme: { tours: false },
      telemetry: { enabled: false },
      externalModules: { autoInstall: false, palette: { allowInstall: false } },
    })};\n`,
  );
  const proc = spawn(process.execPath, [RED_JS, "--userDir", userDir, "--settings", settings], {
    env: { ...process.env, NODE_RED_ENABLE_PROJECTS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.setEncoding("utf8").on("data", (s: string) => (out += s));
  proc.stderr?.setEncoding("utf8").on("data", (s: string) => (out += s));
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node-red exited:\n${out}`);
    if (Date.now() - t0 > 15_000) {
      proc.kill("SIGKILL");
      throw new Error(`node-red not listening:\n${out}`);
    }
    const up = await fetch(`${url}/nodes`, { headers: { accept: "application/json" } }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  return { url, userDir, proc, output: () => out };
}

let server: Server;
let red: NodeRed;
beforeAll(async () => {
  [server, red] = await Promise.all([startServer(), startNodeRed()]);
}, 30_000);
afterAll(async () => {
  if (red) {
    red.proc.kill("SIGTERM");
    await new Promise((done) =>
      red.proc.exitCode === null ? red.proc.on("exit", done) : done(null),
    );
    rmSync(red.userDir, { recursive: true, force: true });
  }
  await server?.close();
});

/** The package's example flow, pointed at the test server, the token as a credential. */
function exampleFlow(policyId?: string): Record<string, unknown>[] {
  const flow = JSON.parse(
    readFileSync(join(PACKAGE_DIR, "examples", "authorize-http-request.json"), "utf8"),
  ) as Record<string, unknown>[];
  return flow.map((n) =>
    n.type === "hexarch-config"
      ? { ...n, url: server.url, credentials: { token: TOKEN } }
      : n.type === "hexarch-authorize" && policyId !== undefined
        ? { ...n, policyId }
        : n,
  );
}

const guard = (body: object) =>
  fetch(`${red.url}/guard`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("a real Node-RED runtime with the package installed", () => {
  it("lists the package's four node types", async () => {
    const res = await fetch(`${red.url}/nodes`, { headers: { accept: "application/json" } });
    const sets = (await res.json()) as {
      module: string;
      types: string[];
      enabled: boolean;
      err?: string;
    }[];
    const ours = sets.filter((s) => s.module === "node-red-contrib-hexarch-guardrails");
    expect(ours.flatMap((s) => s.types).sort()).toEqual([
      "hexarch-authorize",
      "hexarch-config",
      "hexarch-report-spend",
      "hexarch-wait-approval",
    ]);
    expect(ours.every((s) => s.enabled && !s.err)).toBe(true);
  });

  it("runs the example flow: allowed 200, denied 403, needs confirmation 202 with a token, no decision 502", async () => {
    const deployed = await fetch(`${red.url}/flows`, {
      method: "POST",
      headers: { "content-type": "application/json", "Node-RED-Deployment-Type": "full" },
      body: JSON.stringify(exampleFlow()),
    });
    expect(deployed.status).toBe(204);

    // The flows start after the deploy answers: wait for the http-in route.
    let allowed = await guard({ policyId: "ops", context: { operation: "select" } });
    for (let i = 0; allowed.status === 404 && i < 100; i++) {
      await new Promise((done) => setTimeout(done, 50));
      allowed = await guard({ policyId: "ops", context: { operation: "select" } });
    }
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({
      allowed: true,
      action: "allow",
      policies: ["ops"],
    });

    const denied = await guard({ policyId: "ops", context: { operation: "drop_table" } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ allowed: false, action: "block" });

    const confirm = await guard({ policyId: "ops", context: { operation: "delete", id: 1 } });
    expect(confirm.status).toBe(202);
    const pending = (await confirm.json()) as { action: string; confirmationToken: string };
    expect(pending.action).toBe("require_confirmation");
    const status = await fetch(`${server.url}/approvals/${pending.confirmationToken}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await status.json()).toMatchObject({
      status: "pending",
      policyId: "ops",
      requestedBy: "node-red",
    });

    // The caller cannot pick the policy: the node's ("ops") decides whatever the body says.
    const picked = await guard({ policyId: "limited", context: { operation: "drop_table" } });
    expect(picked.status).toBe(403);
    expect(await picked.json()).toMatchObject({ policies: ["ops"] });
    const example = JSON.parse(
      readFileSync(join(PACKAGE_DIR, "examples", "authorize-http-request.json"), "utf8"),
    ) as Array<Record<string, unknown>>;
    expect(example.find((n) => n.type === "hexarch-authorize")?.policyId).toBe("ops");
    expect(JSON.stringify(example)).not.toContain('"p":"policyId"');

    // The same flow with a policy the server does not know: 502 from the catch node.
    const redeployed = await fetch(`${red.url}/flows`, {
      method: "POST",
      headers: { "content-type": "application/json", "Node-RED-Deployment-Type": "full" },
      body: JSON.stringify(exampleFlow("nope")),
    });
    expect(redeployed.status).toBe(204);
    let unknown = await guard({ context: {} });
    for (let i = 0; unknown.status !== 502 && i < 100; i++) {
      await new Promise((done) => setTimeout(done, 50));
      unknown = await guard({ context: {} });
    }
    expect(unknown.status).toBe(502);
    expect(await unknown.json()).toEqual({
      message: expect.stringContaining("404"),
      code: "unknown_policy",
      status: 404,
    });
  });

  it("keeps the token out of the flow: not in GET /flows, not in flows.json, encrypted in flows_cred.json", async () => {
    const flows = await (
      await fetch(`${red.url}/flows`, { headers: { accept: "application/json" } })
    ).text();
    expect(flows).toContain("hexarch-config");
    expect(flows).not.toContain(TOKEN);
    const file = readFileSync(join(red.userDir, "flows.json"), "utf8");
    expect(file).toContain("hexarch-config");
    expect(file).not.toContain(TOKEN);
    const creds = readFileSync(join(red.userDir, "flows_cred.json"), "utf8");
    expect(creds).not.toContain(TOKEN);
    expect(JSON.parse(creds)).toHaveProperty("$");
    // The editor learns only that a token is set.
    const cfg = await fetch(`${red.url}/credentials/hexarch-config/hx_example_server`, {
      headers: { accept: "application/json" },
    });
    expect(await cfg.json()).toEqual({ has_token: true });
  });
});
