/**
 * The Node.js floor: `engines` says the versions that work (22.13 and later on the 22
 * line, 23.4 and later after it: those with `node:sqlite` built in without a flag), and
 * another Node gets one line naming the version needed from the CLI and from the SQLite
 * stores, never `No such built-in module: node:sqlite`.
 *
 * The check runs in-process with made-up versions, and once for real on Node.js 22.12.0
 * from the npm registry (the `node` package; installed once per machine into the temp
 * directory, about 30 MB; skipped with a notice when it cannot be installed, except in CI).
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { GuardrailError, UnsupportedNodeVersionError } from "../../src/index.ts";
// Internal: the Node.js version check, run against versions this machine does not have.
import {
  NODE_ENGINES,
  NODE_FLOOR,
  nodeFloorProblem,
  nodeSupported,
} from "../../src/util/node-floor.ts";
import { tempDbs } from "../support/cleanup.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(REPO, "src");
const run = promisify(execFile);

describe("the Node.js floor", () => {
  it("is what package.json's engines says", () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toBe(NODE_ENGINES);
    expect(NODE_ENGINES).toBe("^22.13.0 || >=23.4.0");
    expect(NODE_FLOOR).toBe("22.13.0");
  });

  it("admits 22.13 and later on the 22 line, 23.4 and later after it", () => {
    const cases: [string, boolean][] = [
      ["22.12.0", false],
      ["22.12.9", false],
      ["22.5.1", false],
      ["20.19.5", false],
      ["v22.12.0", false],
      // node:sqlite came to 23 without a flag only in 23.4.
      ["23.0.0", false],
      ["23.3.0", false],
      ["22.13.0", true],
      ["22.13.1", true],
      ["22.100.0", true],
      ["23.4.0", true],
      ["24.21.0", true],
      ["v26.0.0-nightly20261201", true],
    ];
    for (const [version, ok] of cases) expect(nodeSupported(version), version).toBe(ok);
  });

  it("is one line naming the version needed and the one running", () => {
    expect(nodeFloorProblem("hexarch-ctl", "22.12.0")).toBe(
      "hexarch-ctl needs Node.js 22.13 or later; this is Node.js 22.12.0",
    );
    expect(nodeFloorProblem("hexarch-ctl", "20.19.5")).toBe(
      "hexarch-ctl needs Node.js 22.13 or later; this is Node.js 20.19.5",
    );
    expect(nodeFloorProblem("hexarch-ctl", "23.3.0")).toBe(
      "hexarch-ctl needs Node.js 23.4 or later; this is Node.js 23.3.0",
    );
    expect(nodeFloorProblem("hexarch-ctl", "22.13.0")).toBeUndefined();
    expect(nodeFloorProblem("hexarch-ctl")).toBeUndefined(); // the Node running the tests
  });

  it("is a GuardrailError with a stable code for library callers", () => {
    const err = new UnsupportedNodeVersionError("SqliteAuditStore", {
      actual: "22.12.0",
      why: "node:sqlite",
    });
    expect(err).toBeInstanceOf(GuardrailError);
    expect(err.code).toBe("unsupported_node_version");
    expect(err).toMatchObject({ required: "22.13.0", actual: "22.12.0" });
    expect(err.message).toBe(
      "SqliteAuditStore needs Node.js 22.13 or later (node:sqlite); this is Node.js 22.12.0",
    );
  });
});

/** The modules `entry` loads through static imports (type-only imports load nothing). */
function staticGraph(entry: string): { files: string[]; specifiers: Set<string> } {
  const files = new Set<string>();
  const specifiers = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(
      /(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/g,
    )) {
      const spec = m[1] as string;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else specifiers.add(spec);
    }
  };
  visit(join(SRC, entry));
  return { files: [...files].map((f) => relative(SRC, f)).sort(), specifiers };
}

describe("what loads before the version is known", () => {
  it("the CLI's entry checks the version before it imports anything else", () => {
    // A static import is linked before any code runs: one that fails on an old Node (a
    // package needing a newer one, node:sqlite) would fail before the check could speak.
    const { files, specifiers } = staticGraph("cli/bin.ts");
    expect(files).toEqual(["cli/bin.ts"]);
    expect([...specifiers]).toEqual([]);
    const loads = [
      ...readFileSync(join(SRC, "cli/bin.ts"), "utf8").matchAll(/await import\("([^"]+)"\)/g),
    ].map((m) => m[1]);
    expect(loads).toEqual(["../util/node-floor.ts", "./program.ts"]);
  });

  it("the CLI's entry shrugs off a reader that went away (`hexarch-ctl --help | head -1`)", async () => {
    // The read end closes before the help is written: the write fails with EPIPE.
    const child = spawn(process.execPath, [join(SRC, "cli/bin.ts"), "--help"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const [code] = (await once(child, "close")) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("no module imports node:sqlite statically but the writer thread's", () => {
    // The writer thread starts only after its store loaded node:sqlite.
    const importers = readdirSync(SRC, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .filter((f) =>
        /(?:^|\n)\s*import\s(?!type\s)[^;]*?from\s+"node:sqlite"/.test(
          readFileSync(join(SRC, f), "utf8"),
        ),
      );
    expect(importers).toEqual(["sqlite/writer-worker.ts"]);
  });
});

const OLD = "22.12.0";

/**
 * Node.js 22.12.0 from the npm registry (`npm install node@22.12.0`), kept in the temp
 * directory across runs. `undefined` (after a notice) when it cannot be had outside CI.
 */
async function oldNode(): Promise<string | undefined> {
  const dir = join(tmpdir(), `hexarch-node-${OLD}`);
  const bin = join(dir, "node_modules", "node", "bin", "node");
  const works = async () =>
    existsSync(bin) && (await run(bin, ["--version"]).catch(() => ({ stdout: "" }))).stdout.trim();
  if ((await works()) === `v${OLD}`) return bin;
  try {
    mkdirSync(dir, { recursive: true });
    // The package fetches its platform's binary in a preinstall script.
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ private: true, allowScripts: { node: true } }),
    );
    await run("npm", ["install", `node@${OLD}`, "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: dir,
      timeout: 300_000,
    });
    if ((await works()) === `v${OLD}`) return bin;
    throw new Error(`${bin} is not Node.js ${OLD}`);
  } catch (err) {
    if (process.env.CI) throw err;
    console.warn(
      `[skip] Node.js ${OLD} could not be installed from npm (${(err as Error).message.split("\n")[0]}): the run on a real old Node is skipped`,
    );
    return undefined;
  }
}

describe(`on a real Node.js ${OLD}`, () => {
  const tempDb = tempDbs("hexarch-floor");
  let node: string | undefined;
  beforeAll(async () => {
    node = await oldNode();
  }, 330_000);

  /** Runs a file of this source on the old Node (its type stripping needs a flag there). */
  const onOld = (args: readonly string[]) =>
    run(
      node as string,
      ["--experimental-strip-types", "--disable-warning=ExperimentalWarning", ...args],
      { cwd: REPO, env: { PATH: process.env.PATH ?? "" } },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  it("has no node:sqlite without a flag (why the floor is 22.13)", async (ctx) => {
    if (!node) return ctx.skip();
    const r = await onOld(["-e", `import("node:sqlite").catch((e) => console.log(e.code))`]);
    expect(r.stdout).toBe("ERR_UNKNOWN_BUILTIN_MODULE\n");
  });

  it("hexarch-ctl says which Node it needs in one line, and exits 1", async (ctx) => {
    if (!node) return ctx.skip();
    for (const args of [["--help"], ["audit", "list"]]) {
      expect(await onOld([join(SRC, "cli/bin.ts"), ...args]), args.join(" ")).toEqual({
        code: 1,
        stdout: "",
        stderr: `hexarch-ctl needs Node.js 22.13 or later; this is Node.js ${OLD}\n`,
      });
    }
  });

  it("hexarch-guardrails/audit imports, and a SQLite store names the version it needs", async (ctx) => {
    if (!node) return ctx.skip();
    const probe = (flags: string[]) =>
      onOld([
        ...flags,
        "--input-type=module",
        "-e",
        `const { SqliteAuditStore, SqliteConfirmationStore } = await import(${JSON.stringify(join(SRC, "audit/index.ts"))});
const db = ${JSON.stringify(tempDb())};
for (const make of [() => new SqliteAuditStore(db), () => new SqliteConfirmationStore(db)]) {
  try { const s = make(); await s.close(); console.log("opened"); }
  catch (e) { console.log(e.code + ": " + e.message); }
}`,
      ]);
    expect(await probe([])).toEqual({
      code: 0,
      stdout: [
        `unsupported_node_version: SqliteAuditStore needs Node.js 22.13 or later (node:sqlite); this is Node.js ${OLD}, where node:sqlite needs the --experimental-sqlite flag`,
        `unsupported_node_version: the confirmation store needs Node.js 22.13 or later (node:sqlite); this is Node.js ${OLD}, where node:sqlite needs the --experimental-sqlite flag`,
        "",
      ].join("\n"),
      stderr: "",
    });
    // With the flag, node:sqlite is there, and the stores use it: found, not assumed.
    expect((await probe(["--experimental-sqlite"])).stdout).toBe("opened\nopened\n");
  });
});
