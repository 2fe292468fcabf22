import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GuardrailError } from "../../src/index.ts";
// Internal: the lazy loader of dependencies, whose loading is what is tested.
import { lazyModule, loadZod } from "../../src/util/lazy-module.ts";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/** Every module reachable from `entry` through static imports, and the bare packages they import. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    // Type-only imports vanish from the emitted JavaScript: they load nothing.
    for (const m of text.matchAll(
      /(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/g,
    )) {
      const spec = m[1] as string;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else
        packages.add(
          spec.startsWith("@")
            ? spec.split("/").slice(0, 2).join("/")
            : (spec.split("/")[0] as string),
        );
    }
  };
  visit(resolve(SRC, entry));
  return { files, packages };
}

/** Every `src/` folder a file of `folder` imports from (type-only imports included). */
function foldersImportedBy(folder: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        for (const m of readFileSync(path, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)) {
          const target = relative(SRC, resolve(dirname(path), m[1] as string));
          const top = target.includes(sep) ? (target.split(sep)[0] as string) : "(root)";
          if (top === folder) continue;
          const from = relative(SRC, path);
          out.set(top, [...(out.get(top) ?? []), from]);
        }
      }
    }
  };
  walk(join(SRC, folder));
  return out;
}

/**
 * The floors of `src/`, lowest first. A folder may import only from folders on a lower floor
 * (type-only imports included); folders on one floor do not import each other. Each
 * folder's `index.ts` says what it owns. The public entries (the `index.ts` files
 * package.json exports) are the package's surface, not a floor: they re-export from any.
 */
const FLOORS: readonly (readonly string[])[] = [
  ["kernel"], // errors with codes, Context, Decision, ids: imports nothing
  ["util"], // small helpers: option checks, lazy modules, money, clocks, did-you-mean
  ["policy", "state", "confirm", "api-keys", "api-policies"], // the language; the contracts
  ["memory", "audit"], // in-process stores; the decision log, its records and hash chain
  ["engine", "sql"], // compile and evaluate; the SQL the two database backends share
  ["decision", "sqlite", "postgres", "redis"], // decision clients; the storage backends
  ["opa"], // the OPA decision client and Rego writer
  ["guardian"], // the SDK
  ["testing"], // test helpers for users
  ["server", "cli", "integrations", "demo"], // front ends
];

/** The source files of the public entries: `./dist/audit/index.js` → `audit/index.ts`. */
const ENTRIES: ReadonlySet<string> = new Set(
  Object.values(
    (
      JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
        exports: Record<string, string | { default?: string }>;
      }
    ).exports,
  )
    .map((e) => (typeof e === "string" ? e : e.default))
    .filter((e): e is string => typeof e === "string" && e.startsWith("./dist/"))
    .map((e) =>
      e
        .replace(/^\.\/dist\//, "")
        .replace(/\.js$/, ".ts")
        .split("/")
        .join(sep),
    ),
);

/** `from → to: count` for every import between two folders of `src/`. */
function folderGraph(): Map<string, Map<string, number>> {
  const graph = new Map<string, Map<string, number>>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        if (ENTRIES.has(relative(SRC, path))) continue;
        const own = relative(SRC, path).split(sep);
        const from = own.length > 1 ? (own[0] as string) : "(root)";
        for (const m of readFileSync(path, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)) {
          const target = relative(SRC, resolve(dirname(path), m[1] as string)).split(sep);
          const to = target.length > 1 ? (target[0] as string) : "(root)";
          if (to === from) continue;
          const row = graph.get(from) ?? new Map<string, number>();
          row.set(to, (row.get(to) ?? 0) + 1);
          graph.set(from, row);
        }
      }
    }
  };
  walk(SRC);
  return graph;
}

describe("the floors of src/ (imports run downward only)", () => {
  const floorOf = new Map(FLOORS.flatMap((names, i) => names.map((n) => [n, i] as const)));
  const graph = folderGraph();

  it("prints the folder graph, floor by floor", () => {
    const lines = FLOORS.flatMap((names, i) =>
      names.map((n) => {
        const row = [...(graph.get(n) ?? new Map<string, number>())]
          .sort((a, b) => (floorOf.get(b[0]) ?? 0) - (floorOf.get(a[0]) ?? 0))
          .map(([to, count]) => `${to} (${count})`);
        return `  ${i} ${n.padEnd(13)} → ${row.join(", ") || "nothing"}`;
      }),
    );
    console.info(`the import graph of src/, by floor:\n${lines.join("\n")}`);
    expect(lines.length).toBe(floorOf.size);
  });

  it("places every folder of src/ on a floor", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.filter((f) => !floorOf.has(f))).toEqual([]);
  });

  it("never imports from a folder on the same or a higher floor", () => {
    const upward: string[] = [];
    for (const [from, row] of graph) {
      for (const to of row.keys()) {
        if ((floorOf.get(to) ?? Infinity) >= (floorOf.get(from) ?? -1))
          upward.push(`${from} → ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("opens each folder with a README.md that gives its floor and what it may import", () => {
    for (const [folder, floor] of floorOf) {
      const file = join(SRC, folder, "README.md");
      expect(existsSync(file), `src/${folder}/README.md`).toBe(true);
      const text = readFileSync(file, "utf8");
      expect(text, `src/${folder}/README.md`).toContain(`Floor ${floor} of \`src/\``);
      expect(text).toMatch(/\*\*Owns:\*\* \S/);
      const line = /\*\*May import:\*\* (.*)\./.exec(text)?.[1] ?? "";
      const declared = [...line.matchAll(/`([\w-]+)\/`/g)].map((m) => m[1] as string);
      for (const d of declared)
        expect(floorOf.get(d), `src/${folder}/README.md declares ${d}/`).toBeLessThan(floor);
      const used = [...(graph.get(folder) ?? new Map<string, number>()).keys()];
      expect(
        used.filter((u) => !declared.includes(u)),
        `src/${folder}/ imports folders its README does not declare`,
      ).toEqual([]);
    }
  });

  it("keeps the kernel free of imports: Context and the errors are everyone's", () => {
    expect([...foldersImportedBy("kernel").keys()]).toEqual([]);
  });
});

describe("tests go through the public entries", () => {
  it("says why wherever a test imports a module of src/ that no entry is", () => {
    const TEST = join(REPO, "test");
    const unexplained: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.ts$/.test(entry.name)) {
          const lines = readFileSync(path, "utf8").split("\n");
          lines.forEach((line, i) => {
            const m = /from "((?:\.\.\/)+src\/[^"]+)";/.exec(line);
            if (!m) return;
            const target = relative(SRC, resolve(dirname(path), m[1] as string));
            if (ENTRIES.has(target)) return;
            // The comment sits above the import statement (which may span lines).
            let start = i;
            while (start > 0 && !(lines[start] as string).trimStart().startsWith("import")) start--;
            if (!(lines[start - 1] ?? "").trimStart().startsWith("// Internal: "))
              unexplained.push(`${relative(REPO, path)}:${i + 1} ${target}`);
          });
        }
      }
    };
    walk(TEST);
    expect(unexplained).toEqual([]);
  });
});

describe("the import graph", () => {
  it("keeps the core entry free of database and Redis drivers", () => {
    const { packages, files } = importGraph("index.ts");
    expect(files.size).toBeGreaterThan(10);
    const external = [...packages].filter((p) => !p.startsWith("node:"));
    // zod, yaml, jose and re2js load on first use (src/util/lazy-module.ts, import("jose")):
    // see "loads its dependencies only when something needs them" below.
    expect(external).toEqual([]);
    // node:sqlite is for hexarch-guardrails/audit only (it warns on older Node versions).
    expect(packages.has("node:sqlite")).toBe(false);
    expect([...files].filter((f) => f.includes("/src/redis/"))).toEqual([]);
  });

  it("keeps the audit entry free of database drivers; node:sqlite loads with a SQLite store", () => {
    const { packages, files } = importGraph("audit/index.ts");
    const external = [...packages].filter((p) => !p.startsWith("node:"));
    expect(external.every((p) => ["re2js", "yaml", "zod"].includes(p))).toBe(true);
    // Not imported statically (a Node.js without it would fail to link the entry): the
    // stores load it when created, through one module.
    expect(packages.has("node:sqlite")).toBe(false);
    expect(files.has(resolve(SRC, "sqlite/node-sqlite.ts"))).toBe(true);
    expect(importGraph("index.ts").files.has(resolve(SRC, "sqlite/node-sqlite.ts"))).toBe(false);
  });

  it("keeps the testing entry free of drivers too", () => {
    const external = [...importGraph("testing/index.ts").packages].filter(
      (p) => !p.startsWith("node:"),
    );
    expect(external.every((p) => ["re2js", "yaml", "zod"].includes(p))).toBe(true);
  });

  it("keeps the opa entry to plain fetch, and the Rego writer out of the core", () => {
    const { packages } = importGraph("opa/index.ts");
    const external = [...packages].filter((p) => !p.startsWith("node:"));
    // No OPA SDK: the client speaks the Data API with the global fetch.
    expect(external.every((p) => ["re2js", "yaml", "zod"].includes(p))).toBe(true);
    const core = importGraph("index.ts").files;
    // The Guardian's opaUrl shorthand builds the (small) client, which reads OPA's answers
    // with a module of its own; toRego stays behind /opa.
    expect([...core].filter((f) => f.includes("/src/opa/")).sort()).toEqual([
      resolve(SRC, "opa/opa-answers.ts"),
      resolve(SRC, "opa/opa-decision-client.ts"),
    ]);
  });

  it("keeps Fastify and its plugins out of the CLI until `serve` runs", () => {
    const { packages, files } = importGraph("cli/program.ts");
    const server = ["fastify", "@fastify/helmet", "@fastify/cors", "@fastify/rate-limit"];
    for (const p of [...server, "@fastify/swagger", "prom-client"])
      expect(packages.has(p)).toBe(false);
    expect([...files].filter((f) => f.includes("/src/server/"))).toEqual([]);
    // The serve command loads the server with import(), only when it runs.
    expect(readFileSync(resolve(SRC, "cli/commands/serve.ts"), "utf8")).toContain(
      'await import("../../server/run.ts")',
    );
    // …and the server's app is where they are imported (itself loaded on the first
    // createServer, after the peers are checked).
    const served = importGraph("server/app.ts").packages;
    for (const p of server) expect(served.has(p)).toBe(true);
    const entry = importGraph("server/index.ts").packages;
    for (const p of server) expect(entry.has(p)).toBe(false);
  });

  it("keeps each web-framework integration to its own framework", () => {
    const cases = [
      // The frameworks are used through their types only: nothing is loaded at run time.
      ["integrations/express/index.ts", []],
      ["integrations/fastify/index.ts", []],
      ["integrations/hono/index.ts", []],
      ["integrations/http/index.ts", []],
    ] as const;
    for (const [entry, allowed] of cases) {
      const { packages, files } = importGraph(entry);
      const external = [...packages].filter((p) => !p.startsWith("node:"));
      expect(external, entry).toEqual(allowed);
      const reached = [...files].filter((f) => f.includes("/src/integrations/"));
      const own = entry.split("/")[1] as string;
      expect(
        reached.filter(
          (f) => !f.includes(`/integrations/${own}/`) && !f.includes("/integrations/http/"),
        ),
        entry,
      ).toEqual([]);
    }
  });

  it("keeps the redis entry's driver behind a dynamic import", () => {
    const { packages, files } = importGraph("redis/index.ts");
    expect(files.has(resolve(SRC, "redis/client.ts"))).toBe(true);
    const external = [...packages].filter((p) => !p.startsWith("node:"));
    // `redis` (an optional peer) is loaded with import() only when a store is given a URL.
    expect(external.every((p) => ["re2js", "yaml", "zod"].includes(p))).toBe(true);
    expect(readFileSync(resolve(SRC, "redis/client.ts"), "utf8")).toContain('import("redis")');
  });

  it("keeps the MCP and Agents SDK integrations to type imports of their SDKs", () => {
    for (const entry of ["integrations/mcp/index.ts", "integrations/openai-agents/index.ts"]) {
      const external = [...importGraph(entry).packages].filter((p) => !p.startsWith("node:"));
      expect(external.every((p) => ["jose", "re2js", "yaml", "zod"].includes(p))).toBe(true);
    }
  });

  it("loads its dependencies only when something needs them", async () => {
    // A real Node process running the source, with a hook that records every package file
    // it loads (`require` and `import` alike): what each step below made Node load.
    const script = `
      import { registerHooks } from "node:module";
      const seen = new Set();
      registerHooks({
        load(url, context, next) {
          const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(url);
          if (m) seen.add(m[1]);
          return next(url, context);
        },
      });
      const steps = {};
      const step = async (name, fn) => { await fn(); steps[name] = [...seen].sort(); };
      let m;
      await step("import", async () => { m = await import(${JSON.stringify(pathToFileURL(resolve(SRC, "index.ts")).href)}); });
      const plain = "policies:\\n  - id: p\\n    rules:\\n      - operation: delete\\n        action: block\\n";
      await step("a plain policy file", () => {
        const g = new m.Guardian({ policies: plain });
        return g.evaluate("p", { operation: "read" });
      });
      await step("a flow-style file", () => m.parsePolicies("policies: [{id: q, rules: []}]"));
      await step("a matches condition", () =>
        m.parsePolicies({ policies: [{ id: "r", rules: [{ when: { field: "x", operator: "matches", value: "^a+$" } }] }] }),
      );
      await step("a signed confirmation", () =>
        new m.SignedConfirmationStore({ keys: [{ kid: "k", secret: "0123456789abcdef0123456789abcdef" }] })
          .create({ policyId: "p", fingerprint: "f" }),
      );
      console.log(JSON.stringify(steps));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "--eval", script], {
      cwd: REPO,
    });
    expect(JSON.parse(stdout)).toEqual({
      import: [],
      "a plain policy file": ["zod"],
      "a flow-style file": ["yaml", "zod"],
      "a matches condition": ["re2js", "yaml", "zod"],
      "a signed confirmation": ["jose", "re2js", "yaml", "zod"],
    });
  });
});

describe("dependencies loaded on first use", () => {
  it("are the instance `import` loads: one zod, whoever loads it first", () => {
    expect(loadZod().z).toBe(z);
    expect(loadZod()).toBe(loadZod());
  });

  it("say what to do when the package cannot be found (an application bundle left it out)", () => {
    const load = lazyModule("hexarch-no-such-package");
    expect(load).toThrow(GuardrailError);
    expect(load).toThrow(
      /loads 'hexarch-no-such-package' when it is first needed.*keep 'hexarch-no-such-package' external/,
    );
  });
});

describe("the built package (scripts/build.ts)", () => {
  it("bundles each entry with shared chunks: one copy of each class, the root in three files, workers beside their loader", async () => {
    const root = mkdtempSync(join(tmpdir(), "hexarch-bundle-"));
    try {
      const dist = join(root, "dist");
      await run(process.execPath, ["scripts/build.ts", "--out", dist, "--no-types"], {
        cwd: REPO,
      });
      cpSync(join(REPO, "package.json"), join(root, "package.json"));
      symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"), "dir");

      // Every JavaScript file package.json names exists.
      const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
        exports: Record<string, string | { default: string }>;
        bin: Record<string, string>;
      };
      const targets = [
        ...Object.values(pkg.exports).map((t) => (typeof t === "string" ? t : t.default)),
        ...Object.values(pkg.bin),
      ].filter((t) => t.startsWith("./dist/") && t.endsWith(".js"));
      expect(targets.length).toBeGreaterThan(5);
      for (const t of targets) expect(existsSync(join(root, t)), t).toBe(true);

      const probe = `
        import { mkdtempSync, readFileSync, statSync } from "node:fs";
        import { registerHooks } from "node:module";
        import { tmpdir } from "node:os";
        import { join, relative } from "node:path";
        import { fileURLToPath } from "node:url";
        const loaded = [];
        registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
        const dist = ${JSON.stringify(dist)};
        const out = {};
        const root = await import("hexarch-guardrails");
        out.rootFiles = loaded.filter((u) => u.startsWith("file:")).map((u) => relative(dist, fileURLToPath(u)));
        const audit = await import("hexarch-guardrails/audit");
        const testing = await import("hexarch-guardrails/testing");
        out.sameClass = testing.MemoryStateStore === root.MemoryStateStore;
        try { new audit.SqliteAuditStore(":memory:", { worker: true }); } catch (e) { out.instanceofAcrossEntries = e instanceof root.GuardrailError; }
        // The SQLite writer thread starts its worker from the file beside it.
        const file = join(mkdtempSync(join(tmpdir(), "hexarch-bundle-db-")), "decisions.db");
        const logger = new audit.DecisionLogger(new audit.SqliteAuditStore(file, { worker: true }), { exitHooks: false });
        const g = new root.Guardian({ policies: "policies:\\n  - id: p\\n    rules:\\n      - operation: delete\\n", auditLogger: logger });
        out.decision = (await g.enforce("p", { operation: "read" })).decision;
        await logger.flush();
        out.recorded = (await logger.store.query({ limit: 10 })).length;
        await g.close();
        await logger.close();
        console.log(JSON.stringify(out));
      `;
      const { stdout } = await run(process.execPath, ["--input-type=module", "--eval", probe], {
        cwd: root,
      });
      const out = JSON.parse(stdout) as Record<string, unknown>;
      // Node pays per file: the root entry is its file, the core chunk and rolldown's runtime.
      expect((out.rootFiles as string[]).map((f) => f.replace(/-[\w-]{8}\.js$/, ".js"))).toEqual([
        "index.js",
        "chunks/core.js",
        "chunks/rolldown-runtime.js",
      ]);
      expect(out).toMatchObject({
        sameClass: true,
        instanceofAcrossEntries: true,
        decision: "allowed",
        recorded: 1,
      });

      const bin = join(dist, "cli/bin.js");
      expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
      const help = await run(bin, ["--help"], { cwd: root });
      expect(help.stdout).toContain("hexarch-ctl");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 180_000);
});
