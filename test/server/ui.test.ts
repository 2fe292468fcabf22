import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
// Internal: the console's routes, CSP and directory lookup are not part of the public API.
import { UI_CSP, uiDirectory } from "../../src/server/ui.ts";
import { killAfterEach, serveApi } from "../support/serve-process.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TOKEN = "test-token-0123456789abcdef";

interface Manifest {
  readonly entry: string;
  readonly css: string;
  readonly files: readonly { name: string; type: string; bytes: number; gzipBytes: number }[];
}

/** Runs `scripts/build-ui.ts` with `args`. */
function buildUi(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, "scripts/build-ui.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });
}

let dir: string;
let manifest: Manifest;
const tmp: string[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hexarch-ui-"));
  tmp.push(dir);
  const run = buildUi("--out", dir, "--quiet");
  expect(run.status, run.stderr).toBe(0);
  manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
}, 60_000);
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

const apps: FastifyInstance[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  for (const app of apps.splice(0)) await app.close();
});

async function server(options: { ui?: boolean; uiDir?: string; docs?: boolean } = {}) {
  vi.stubEnv("HEXARCH_UI_DIR", options.uiDir ?? dir);
  const app = await createServer({
    guardian: new Guardian({ env: {}, policies: "policies: []" }),
    apiToken: TOKEN,
    logger: false,
    ...(options.ui !== undefined && { ui: options.ui }),
    ...(options.docs !== undefined && { docs: options.docs }),
  });
  apps.push(app);
  return app;
}

describe("the console's build", () => {
  it("writes index.html, one hashed JS file and one hashed CSS file, the JS under 150 KB gzipped", () => {
    const names = manifest.files.map((f) => f.name).sort();
    expect(names).toEqual([manifest.entry, manifest.css, "index.html"].sort());
    expect(manifest.entry).toMatch(/^app-[0-9a-f]{12}\.js$/);
    expect(manifest.css).toMatch(/^app-[0-9a-f]{12}\.css$/);
    const js = manifest.files.find((f) => f.name === manifest.entry);
    expect(js?.gzipBytes).toBeGreaterThan(1000);
    expect(js?.gzipBytes).toBeLessThan(150 * 1024);
    // uPlot's stylesheet is in the CSS file (uPlot injects none; the CSP allows none inline).
    expect(readFileSync(join(dir, manifest.css), "utf8")).toContain(".uplot");
  });

  it("fails, writing nothing, when the JavaScript is over the budget", () => {
    const out = mkdtempSync(join(tmpdir(), "hexarch-ui-over-"));
    tmp.push(out);
    rmSync(out, { recursive: true });
    const run = buildUi("--out", out, "--quiet", "--budget", "1000");
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/over the 1\.0 KB budget/);
    expect(() => readFileSync(join(out, "manifest.json"))).toThrow();
  }, 60_000);
});

describe("GET /ui", () => {
  it("redirects /ui to /ui/", async () => {
    const app = await server();
    const res = await app.inject({ method: "GET", url: "/ui" });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe("/ui/");
    expect(res.headers["content-security-policy"]).toBe(UI_CSP);
  });

  it("puts the strict CSP on every answer under /ui: unknown files, methods, and the redirect", async () => {
    const app = await server();
    for (const [method, url] of [
      ["GET", "/ui"],
      ["GET", "/ui?x=1"],
      ["GET", "/ui/nope.js"],
      ["GET", "/ui/a/b"],
      ["POST", "/ui/"],
      ["DELETE", "/ui/index.html"],
    ] as const) {
      const res = await app.inject({ method, url });
      expect(res.headers["content-security-policy"], `${method} ${url}`).toBe(UI_CSP);
    }
    // Not the other routes' policy: the API answers keep theirs.
    const health = await app.inject({ method: "GET", url: "/health" });
    expect(health.headers["content-security-policy"]).not.toBe(UI_CSP);
    const beside = await app.inject({ method: "GET", url: "/uix" });
    expect(beside.headers["content-security-policy"]).not.toBe(UI_CSP);
  });

  it("serves index.html without a token, with the strict CSP and no inline script or style", async () => {
    const app = await server();
    const res = await app.inject({ method: "GET", url: "/ui/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toBe(UI_CSP);
    expect(res.headers["content-security-policy"]).toContain("script-src 'self';");
    expect(res.headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers.etag).toMatch(/^".+"$/);
    const html = res.body;
    // Every script has a src (none inline), there is no <style> nor style= nor on…= handler.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts).toHaveLength(1);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\.\/app-[0-9a-f]{12}\.js"/);
      expect(body?.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain(`href="./${manifest.css}"`);
    // Data routes keep their authentication.
    expect((await app.inject({ method: "GET", url: "/audit-logs" })).statusCode).toBe(401);
  });

  it("serves the assets with their types, an ETag and immutable caching", async () => {
    const app = await server();
    const js = await app.inject({ method: "GET", url: `/ui/${manifest.entry}` });
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["content-security-policy"]).toBe(UI_CSP);
    expect(js.body).toBe(readFileSync(join(dir, manifest.entry), "utf8"));
    const css = await app.inject({ method: "GET", url: `/ui/${manifest.css}` });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    const again = await app.inject({
      method: "GET",
      url: `/ui/${manifest.entry}`,
      headers: { "if-none-match": String(js.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");
  });

  it.each([
    "/ui/../package.json",
    "/ui/%2e%2e/package.json",
    "/ui/..%2fpackage.json",
    "/ui/%2E%2E%2Fpackage.json",
    "/ui/..%5cpackage.json",
    "/ui/....//package.json",
    "/ui/%2fetc%2fpasswd",
    "/ui//etc/passwd",
    "/ui/manifest.json",
    "/ui/index.html/",
    "/ui/nope.js",
  ])("answers 404 for %s, reading nothing outside the build", async (url) => {
    const app = await server();
    const res = await app.inject({ method: "GET", url });
    expect([400, 404]).toContain(res.statusCode);
    expect(res.body).not.toContain("hexarch-guardrails");
    expect(res.body).not.toContain("root:");
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
  });

  it("is 404 with ui: false (serve api --no-ui)", async () => {
    const app = await server({ ui: false });
    for (const url of ["/ui", "/ui/", `/ui/${manifest.entry}`]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe("route_not_found");
    }
  });

  it("answers 503 ui_not_built when the console is not built, and the server runs on", async () => {
    const empty = mkdtempSync(join(tmpdir(), "hexarch-ui-empty-"));
    tmp.push(empty);
    const app = await server({ uiDir: empty });
    const res = await app.inject({ method: "GET", url: "/ui/" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: "ui_not_built" });
    expect(res.json().message).toContain("npm run build:ui");
    expect((await app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
  });

  it("is left out of the OpenAPI document", async () => {
    const app = await server({ docs: true });
    const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/ui"))).toEqual([]);
  });
});

describe("where the built console is found", () => {
  it("HEXARCH_UI_DIR first, else dist/ui from the source module", () => {
    expect(uiDirectory({ HEXARCH_UI_DIR: dir })).toBe(dir);
    expect(uiDirectory({})).toBe(join(ROOT, "dist/ui"));
  });

  it("dist/ui beside the bundled server module (the package as installed)", () => {
    const root = mkdtempSync(join(tmpdir(), "hexarch-dist-"));
    tmp.push(root);
    const dist = join(root, "dist");
    const build = spawnSync(
      process.execPath,
      [join(ROOT, "scripts/build.ts"), "--out", dist, "--no-types"],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(build.status, build.stderr).toBe(0);
    cpSync(join(ROOT, "package.json"), join(root, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"), "dir");
    const probe = `
      const { createServer } = await import("hexarch-guardrails/server");
      const { Guardian } = await import("hexarch-guardrails");
      const app = await createServer({ guardian: new Guardian({ env: {}, policies: "policies: []" }), apiToken: "t".repeat(32), logger: false });
      const res = await app.inject({ method: "GET", url: "/ui/" });
      await app.close();
      console.log(JSON.stringify({ status: res.statusCode, html: res.body }));
    `;
    const env = { ...process.env };
    delete env.HEXARCH_UI_DIR;
    const run = spawnSync(process.execPath, ["--input-type=module", "--eval", probe], {
      cwd: root,
      env,
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { status: number; html: string };
    expect(out.status).toBe(200);
    expect(out.html).toBe(readFileSync(join(dist, "ui/index.html"), "utf8"));
  }, 120_000);
});

describe("hexarch-ctl serve api and /ui", () => {
  const children = killAfterEach();

  it.each([
    ["by default, /ui/ answers 200", [], {}, 200],
    ["with --no-ui, /ui/ answers 404", ["--no-ui"], {}, 404],
    ["with HEXARCH_API_UI=false, /ui/ answers 404", [], { HEXARCH_API_UI: "false" }, 404],
  ] as const)(
    "%s",
    async (_name, args, env, status) => {
      const cwd = mkdtempSync(join(tmpdir(), "hexarch-serve-ui-"));
      tmp.push(cwd);
      const serve = await serveApi([...args, "--db", join(cwd, "decisions.db"), "--init-db"], {
        cwd,
        children,
        env: { HEXARCH_API_TOKEN: TOKEN, HEXARCH_UI_DIR: dir, ...env },
      });
      const res = await fetch(`${serve.url}/ui/`);
      expect(res.status).toBe(status);
      if (status === 200) expect(res.headers.get("content-security-policy")).toBe(UI_CSP);
      const who = await fetch(`${serve.url}/whoami`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      // GET /whoami tells the console (and scripts) whether the server serves it.
      expect(who.status).toBe(200);
      const me = (await who.json()) as { features: { ui: boolean } };
      expect(me.features.ui).toBe(status === 200);
    },
    30_000,
  );
});
