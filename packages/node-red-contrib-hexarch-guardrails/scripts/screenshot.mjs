// @ts-check
/**
 * Screenshots of the Node-RED editor for docs/node-red.md: starts a decision server
 * (`hexarch-ctl serve api` from this repository) and Node-RED with this package and its example
 * flow, sends one request of each kind through the flow so the authorize node shows a
 * status, and saves PNGs to docs/images/node-red/. Needs Chromium (`CHROMIUM_BIN`, default
 * /usr/bin/chromium) and playwright-core, both dev tools of the repository.
 *
 *   npx node packages/node-red-contrib-hexarch-guardrails/scripts/screenshot.mjs
 */

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const OUT = join(REPO, "docs", "images", "node-red");
const require = createRequire(import.meta.url);
const TOKEN = "screenshot-token-0123456789abcdef";

/** @type {import("node:child_process").ChildProcess[]} */
const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/** @returns {Promise<number>} */
async function freePort() {
  const probe = createServer();
  await new Promise((done) => probe.listen(0, "127.0.0.1", () => done(undefined)));
  const address = probe.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise((done) => probe.close(() => done(undefined)));
  return port;
}

/**
 * @param {string} url
 * @param {string} what
 */
async function waitUp(url, what) {
  for (let i = 0; i < 300; i++) {
    const up = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${what} did not start`);
}

const work = mkdtempSync(join(tmpdir(), "hexarch-node-red-shots-"));
try {
  // The decision server.
  writeFileSync(
    join(work, "hexarch.yaml"),
    `policies:
  - id: ops
    rules:
      - { operation: drop_table, action: block }
      - { operation: delete, action: require_confirmation }
      - { resource: "*", action: allow }
`,
  );
  const serverPort = await freePort();
  const server = spawn(
    process.execPath,
    [
      join(REPO, "src", "cli", "bin.ts"),
      "serve",
      "api",
      "--port",
      String(serverPort),
      "--log-level",
      "warn",
    ],
    { cwd: work, env: { ...process.env, HEXARCH_API_TOKEN: TOKEN }, stdio: "ignore" },
  );
  children.push(server);
  const serverUrl = `http://127.0.0.1:${serverPort}`;
  await waitUp(`${serverUrl}/health`, "serve api");

  // Node-RED with the package installed and the example flow as its flow file.
  const userDir = join(work, "node-red");
  mkdirSync(join(userDir, "node_modules"), { recursive: true });
  symlinkSync(
    PACKAGE_DIR,
    join(userDir, "node_modules", "node-red-contrib-hexarch-guardrails"),
    "dir",
  );
  /** @type {Record<string, unknown>[]} */
  const flow = JSON.parse(
    readFileSync(join(PACKAGE_DIR, "examples", "authorize-http-request.json"), "utf8"),
  );
  writeFileSync(
    join(userDir, "flows.json"),
    JSON.stringify(flow.map((n) => (n.type === "hexarch-config" ? { ...n, url: serverUrl } : n))),
  );
  const redPort = await freePort();
  writeFileSync(
    join(userDir, "settings.js"),
    `module.exports = ${JSON.stringify({
      uiHost: "127.0.0.1",
      uiPort: redPort,
      flowFile: "flows.json",
      credentialSecret: "screenshots",
      logging: { console: { level: "warn" } },
      editorTheme: { tours: false, projects: { enabled: false } },
      telemetry: { enabled: false },
    })};\n`,
  );
  const red = spawn(
    process.execPath,
    [
      require.resolve("node-red/red.js"),
      "--userDir",
      userDir,
      "--settings",
      join(userDir, "settings.js"),
    ],
    { env: process.env, stdio: "ignore" },
  );
  children.push(red);
  const redUrl = `http://127.0.0.1:${redPort}`;
  await waitUp(`${redUrl}/flows`, "node-red");
  // The token as a credential, through the admin API (as the editor's deploy sends it).
  const flows = await fetch(`${redUrl}/flows`).then((r) => r.json());
  const withToken = /** @type {Record<string, unknown>[]} */ (flows).map((n) =>
    n.type === "hexarch-config" ? { ...n, credentials: { token: TOKEN } } : n,
  );
  await fetch(`${redUrl}/flows`, {
    method: "POST",
    headers: { "content-type": "application/json", "Node-RED-Deployment-Type": "full" },
    body: JSON.stringify(withToken),
  });
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${redUrl}/guard`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ policyId: "ops", context: { operation: "select" } }),
    });
    if (r.status !== 404) break;
    await new Promise((done) => setTimeout(done, 50));
  }

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1760, height: 640 } });
    await page.goto(redUrl);
    await page.waitForSelector("#red-ui-workspace-chart svg .red-ui-flow-node", {
      timeout: 30_000,
    });
    await page.waitForTimeout(1500);
    // The last decision on the authorize node's status: a denied request.
    await fetch(`${redUrl}/guard`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ policyId: "ops", context: { operation: "drop_table" } }),
    });
    await page.waitForTimeout(1000);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "example-flow.png") });
    // The authorize node's edit dialog and its help.
    await page.dblclick("#hx_example_authorize");
    await page.waitForSelector("#node-input-policyId", { timeout: 10_000 });
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(OUT, "authorize-node.png") });
    console.log(`saved ${join(OUT, "example-flow.png")} and authorize-node.png`);
  } finally {
    await browser.close();
  }
} finally {
  for (const c of children) c.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
