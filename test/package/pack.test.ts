/**
 * The package as a user receives it. A clean copy of the repository is built and packed with
 * `npm pack`; the tarball is installed into a fresh project beside every optional peer (at
 * the versions in our devDependencies); then, in that project and on the Node 24 running
 * this file: every `exports` subpath is imported by name (ESM and `require`) and type-checked,
 * `hexarch-ctl` runs from `node_modules/.bin`, the README's first-screen commands and snippet
 * run as written, and shipped examples run once copied out of `node_modules`.
 *
 * Slow by nature (a build and an `npm install`; the npm cache that `npm ci` filled makes the
 * install quick): the whole file takes about a minute.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

/** Named exports each subpath must have (a subpath missing here fails the test). */
const EXPECTED: Record<string, readonly string[]> = {
  ".": [
    "Guardian",
    "PolicyViolation",
    "ConfirmationRequired",
    "GuardrailError",
    "PolicyFileError",
    "DecisionBackendError",
    "RulesEngine",
    "MemoryStateStore",
    "MemoryConfirmationStore",
    "ConfirmationWorkflow",
    "HttpConfirmationGateway",
    "loadPolicyFile",
  ],
  "./audit": ["DecisionLogger", "SqliteAuditStore", "PostgresAuditStore", "NullAuditStore"],
  "./opa": ["OpaDecisionClient", "toRego"],
  "./server": ["createServer", "startServer"],
  "./redis": ["RedisStateStore", "RedisConfirmationStore"],
  "./testing": ["ManualClock", "MemoryStateStore", "MemoryConfirmationStore"],
  "./integrations/ai-sdk": ["guardrailsMiddleware"],
  "./integrations/anthropic": ["guardAnthropic"],
  "./integrations/express": ["guard"],
  "./integrations/fastify": ["guard"],
  "./integrations/hono": ["guard"],
  "./integrations/http": ["httpGuard"],
  "./integrations/mcp": ["guardMcpServer"],
  "./integrations/openai": ["guardOpenAI"],
  "./integrations/openai-agents": ["guardTool"],
};
const CODE_SUBPATHS = Object.keys(PKG.exports).filter((s) => !s.endsWith(".json"));
const specifier = (subpath: string) => PKG.name + subpath.slice(1);

// Node 24 (this process) first on PATH: npm, npx and the `#!/usr/bin/env node` bins run on it.
const ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HEXARCH_"))),
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
  NO_COLOR: "1",
  npm_config_update_notifier: "false",
};

/** Runs a command (through a shell when given one string), failing with its output. */
function sh(command: string, cwd: string, args?: readonly string[]): SpawnSyncReturns<string> {
  const r = args
    ? spawnSync(command, args, { cwd, env: ENV, encoding: "utf8", timeout: 240_000 })
    : spawnSync(command, { cwd, env: ENV, encoding: "utf8", timeout: 240_000, shell: true });
  if (r.status !== 0) {
    throw new Error(
      `${[command, ...(args ?? [])].join(" ")} exited ${r.status ?? r.signal} in ${cwd}\n${r.stdout}\n${r.stderr}`,
    );
  }
  return r;
}

let work: string;
let project: string;
let tarball: string;
let shipped: { path: string; mode: number }[];
const timings: string[] = [];

function timed<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  try {
    return f();
  } finally {
    timings.push(`${label} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "hexarch-pack-"));
  // A clean copy, so the tarball is built from the sources (not a stale dist/) and the
  // build never rewrites the dist/ other test files may be reading.
  const source = join(work, "source");
  const skip = new Set(["node_modules", "dist", ".git", "coverage", "test", "bench"]);
  cpSync(ROOT, source, {
    recursive: true,
    filter: (from) => {
      const rel = from.slice(ROOT.length).replace(/^[/\\]/, "");
      const top = rel.split(/[/\\]/)[0] ?? "";
      return !skip.has(top) && !rel.startsWith(join("docs", "api")) && !/\.db(-\w+)?$/.test(rel);
    },
  });
  symlinkSync(join(ROOT, "node_modules"), join(source, "node_modules"), "dir");
  timed("build", () => sh("npm run build", source));
  const packed = timed("pack", () =>
    sh("npm", source, ["pack", "--ignore-scripts", "--json", "--pack-destination", work]),
  );
  const [info] = JSON.parse(packed.stdout) as {
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
    files: { path: string; mode: number }[];
  }[];
  if (!info) throw new Error(`npm pack printed no tarball: ${packed.stdout}`);
  tarball = join(work, info.filename);
  shipped = info.files;
  timings.push(
    `tarball ${(info.size / 1000).toFixed(1)} kB, unpacked ${(info.unpackedSize / 1000).toFixed(1)} kB, ${info.entryCount} files`,
  );

  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    // What `npm init -y` writes (npm 11): a CommonJS package, as most new projects are.
    JSON.stringify({ name: "first-contact", private: true, type: "commonjs" }),
  );
  const peers = Object.keys(PKG.peerDependencies).map(
    (name) => `${name}@${PKG.devDependencies[name] ?? PKG.peerDependencies[name]}`,
  );
  timed("npm install", () =>
    sh("npm", project, [
      "install",
      tarball,
      ...peers,
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
    ]),
  );
}, 600_000);

afterAll(() => {
  console.log(`pack test: ${timings.join("; ")}`);
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

/** Runs a file in the project on this Node. */
function nodeIn(file: string, ...args: string[]): SpawnSyncReturns<string> {
  return sh(process.execPath, project, [file, ...args]);
}

describe("the packed tarball", () => {
  it("holds every file exports and bin point at, the license, docs and examples", () => {
    const paths = new Set(shipped.map((f) => f.path));
    const targets = [
      ...Object.values(PKG.exports).flatMap((t) =>
        typeof t === "string" ? [t] : Object.values(t),
      ),
      ...Object.values(PKG.bin),
    ].map((t) => t.replace(/^\.\//, ""));
    for (const t of targets) expect(paths, `${t} is not in the tarball`).toContain(t);
    for (const f of [
      "LICENSE",
      "README.md",
      "CHANGELOG.md",
      "docs/README.md",
      "examples/README.md",
    ]) {
      expect(paths).toContain(f);
    }
    const bin = shipped.find((f) => f.path === PKG.bin["hexarch-ctl"]?.replace(/^\.\//, ""));
    expect((bin?.mode ?? 0) & 0o111, "the CLI is executable").not.toBe(0);
  });

  it("ships no source map, no test, no generated API reference", () => {
    const unwanted = shipped
      .map((f) => f.path)
      .filter((p) => /\.map$|\.test(-d)?\.(d\.)?[cm]?[jt]s$|^test\/|^docs\/api\/|^src\//.test(p));
    expect(unwanted).toEqual([]);
  });
});

describe("installed in a fresh project", { timeout: 120_000 }, () => {
  it("runs no script at install time (npm 11 would ask the user to approve it)", () => {
    const installed = JSON.parse(
      readFileSync(join(project, "node_modules", "hexarch-guardrails", "package.json"), "utf8"),
    ) as { scripts?: Record<string, string> };
    const lifecycle = ["preinstall", "install", "postinstall", "prepare"];
    expect(Object.keys(installed.scripts ?? {}).filter((s) => lifecycle.includes(s))).toEqual([]);
  });

  it("imports every exports subpath by name, with its named exports", () => {
    expect(CODE_SUBPATHS.slice().sort()).toEqual(Object.keys(EXPECTED).sort());
    const script = [
      `const expected = ${JSON.stringify(EXPECTED)};`,
      "const missing = [];",
      "for (const [sub, names] of Object.entries(expected)) {",
      `  const m = await import(${JSON.stringify(PKG.name)} + sub.slice(1));`,
      "  for (const n of names) if (m[n] === undefined) missing.push(sub + ' ' + n);",
      "}",
      `const schema = (await import("${PKG.name}/schema.json", { with: { type: "json" } })).default;`,
      `const pkg = (await import("${PKG.name}/package.json", { with: { type: "json" } })).default;`,
      "console.log(JSON.stringify({ missing, schema: typeof schema.properties, version: pkg.version }));",
    ].join("\n");
    writeFileSync(join(project, "imports.mjs"), script);
    expect(JSON.parse(nodeIn("imports.mjs").stdout)).toEqual({
      missing: [],
      schema: "object",
      version: PKG.version,
    });
  });

  it("require()s every subpath from CommonJS, sharing the ESM classes", () => {
    const script = [
      `const subpaths = ${JSON.stringify(CODE_SUBPATHS)};`,
      "const failed = [];",
      "for (const sub of subpaths) {",
      `  try { require(${JSON.stringify(PKG.name)} + sub.slice(1)); } catch (e) { failed.push(sub + ': ' + e.message); }`,
      "}",
      `const { Guardian, PolicyViolation } = require("${PKG.name}");`,
      `const { ManualClock } = require("${PKG.name}/testing");`,
      `import("${PKG.name}").then((esm) => console.log(JSON.stringify({`,
      "  failed, guardian: typeof Guardian, clock: typeof ManualClock,",
      "  same: esm.Guardian === Guardian && esm.PolicyViolation === PolicyViolation,",
      "})));",
    ].join("\n");
    writeFileSync(join(project, "require.cjs"), script);
    const r = nodeIn("require.cjs");
    expect(JSON.parse(r.stdout)).toEqual({
      failed: [],
      guardian: "function",
      clock: "function",
      same: true,
    });
    expect(r.stderr).not.toMatch(/ExperimentalWarning/);
  });

  it("type-checks an import of every subpath (exports' types, nodenext resolution)", () => {
    const lines = CODE_SUBPATHS.map(
      (sub, i) =>
        `import { ${(EXPECTED[sub] ?? []).map((n) => `${n} as e${i}_${n}`).join(", ")} } from "${specifier(sub)}";\n` +
        `console.log(${(EXPECTED[sub] ?? []).map((n) => `e${i}_${n}`).join(", ")});`,
    );
    writeFileSync(join(project, "types.ts"), `${lines.join("\n")}\nexport {};\n`);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2023",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
        },
        files: ["types.ts"],
      }),
    );
    nodeIn(join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json");
  });

  it("runs hexarch-ctl from node_modules/.bin", () => {
    const r = sh(join(project, "node_modules/.bin/hexarch-ctl"), project, ["--help"]);
    expect(r.stdout).toMatch(/^Usage: hexarch-ctl/);
    expect(r.stdout).toContain("policy validate");
    expect(sh(join(project, "node_modules/.bin/hexarch-ctl"), project, ["--version"]).stdout).toBe(
      `${PKG.version}\n`,
    );
  });

  it("runs the README's first screen as written: init, the guarded function, validate", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const firstScreen = readme.slice(0, readme.indexOf("\n## Develop"));
    expect(firstScreen).toContain("npm install hexarch-guardrails\n");
    for (const cmd of ["npx hexarch-ctl init", "npx hexarch-ctl policy validate"]) {
      expect(firstScreen).toContain(cmd);
    }
    const snippet = firstScreen.match(/```ts\n(\/\/ guard\.mts\n[\s\S]*?)```/)?.[1];
    expect(snippet, "a ```ts block starting with // guard.mts").toBeDefined();
    const output = firstScreen.match(/```text\n([\s\S]*?)```/)?.[1];

    expect(sh("npx hexarch-ctl init", project).stdout).toContain("wrote hexarch.yaml");
    // .mts: an ES module whatever the project's "type" (npm init -y writes "commonjs").
    writeFileSync(join(project, "guard.mts"), snippet ?? "");
    expect(firstScreen).toContain("`node guard.mts`");
    expect(sh("node guard.mts", project).stdout).toBe(output);
    expect(sh("npx hexarch-ctl policy validate", project).stdout).toMatch(/^valid: hexarch\.yaml/);
  });

  it("runs shipped examples copied out of node_modules", () => {
    const examples = join(work, "examples");
    cpSync(join(project, "node_modules", PKG.name, "examples"), examples, { recursive: true });
    // Resolve the package and its peers from the project, as a user's own copy would.
    symlinkSync(join(project, "node_modules"), join(work, "node_modules"), "dir");
    expect(existsSync(join(examples, "budget-protection.ts"))).toBe(true);
    const budget = sh(process.execPath, examples, ["budget-protection.ts"]);
    expect(budget.stdout).toMatch(/blocked: .*monthly budget of \$10\.00 would be exceeded/);
    const express = sh(process.execPath, join(examples, "integrations"), ["express.ts"]);
    expect(express.stdout).toContain("DELETE /projects/apollo → 202 pending_approval");
    expect(express.stdout.trim().split("\n").at(-1)).toBe("projects left: gemini");
  });
});
