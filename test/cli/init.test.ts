import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
// Internal: the starter file hexarch-ctl init writes.
import { PUBLISHED_SCHEMA_URL, starterPolicyFile } from "../../src/cli/starter.ts";
import { parsePolicies, VERSION } from "../../src/index.ts";
// Internal: the documentation URL the starter file links to.
import { POLICY_DOCS_URL } from "../../src/policy/docs-url.ts";
// Internal: the generator of the editor's JSON Schema, compared with the file it writes.
import { editorJsonSchema, type JsonSchema } from "../../src/policy/json-schema.ts";
import { ctl } from "../support/cli-fixtures.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  repository: { url: string };
  files: string[];
  exports: Record<string, unknown>;
};

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-init-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The `$schema` a written file's first line names. */
function schemaLine(text: string): string {
  const first = text.split("\n")[0] ?? "";
  const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
  if (!m?.[1]) throw new Error(`first line is not a schema modeline: ${first}`);
  return m[1];
}

/** Every key name the schema accepts anywhere, and every value it lists. */
function schemaWords(): Set<string> {
  const words = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const n = node as JsonSchema;
    if (n.properties && typeof n.properties === "object") {
      for (const k of Object.keys(n.properties)) words.add(k);
    }
    if (Array.isArray(n.enum)) for (const v of n.enum) words.add(String(v));
    for (const v of Object.values(n)) walk(v);
  };
  walk(editorJsonSchema());
  return words;
}

describe("hexarch-ctl init", () => {
  it("outside a project: links the published schema of this version, and the file validates", async () => {
    const cwd = tempDir();
    const run = await ctl(["init"], { cwd });
    expect(run.code).toBe(0);
    const text = readFileSync(join(cwd, "hexarch.yaml"), "utf8");
    expect(schemaLine(text)).toBe(
      `https://unpkg.com/hexarch-guardrails@${VERSION}/schema/hexarch.schema.json`,
    );
    expect(PUBLISHED_SCHEMA_URL).toBe(schemaLine(text));
    // That path is in the published package: `files` ships schema/, exports name it.
    expect(pkg.files).toContain("schema");
    expect(pkg.exports["./schema.json"]).toBe("./schema/hexarch.schema.json");

    const validate = await ctl(["policy", "validate"], { cwd });
    expect(validate.stderr).toBe("");
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain("4 policies");
  });

  it("creates a missing folder, and says so when a file stands where the folder should be", async () => {
    const cwd = tempDir();
    expect((await ctl(["init", "config/hexarch.yaml"], { cwd })).code).toBe(0);
    expect(existsSync(join(cwd, "config", "hexarch.yaml"))).toBe(true);
    writeFileSync(join(cwd, "conf"), "not a folder");
    const run = await ctl(["init", "conf/hexarch.yaml"], { cwd });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("cannot create the folder of conf/hexarch.yaml");
    expect(run.stderr).not.toContain("already exists");
  });

  it("inside a project: links the installed schema by a path relative to the file", async () => {
    const project = tempDir();
    mkdirSync(join(project, "node_modules"));
    // As npm links a workspace package; the path must go through node_modules anyway.
    symlinkSync(ROOT, join(project, "node_modules", "hexarch-guardrails"), "dir");

    const top = await ctl(["init"], { cwd: project });
    expect(top.code).toBe(0);
    const nested = await ctl(["init", "config/policies/hexarch.yaml"], { cwd: project });
    expect(nested.stderr).toBe("");
    expect(nested.code).toBe(0);

    for (const [file, expected] of [
      ["hexarch.yaml", "./node_modules/hexarch-guardrails/schema/hexarch.schema.json"],
      [
        "config/policies/hexarch.yaml",
        "../../node_modules/hexarch-guardrails/schema/hexarch.schema.json",
      ],
    ] as const) {
      const path = join(project, file);
      const ref = schemaLine(readFileSync(path, "utf8"));
      expect(ref, file).toBe(expected);
      // Resolved as yaml-language-server resolves it: from the file's own folder.
      expect(existsSync(resolve(dirname(path), ref)), file).toBe(true);
    }
    const validate = await ctl(["policy", "validate", "config/policies/hexarch.yaml"], {
      cwd: project,
    });
    expect(validate.code).toBe(0);
  });
});

describe("the starter file", () => {
  const text = starterPolicyFile(PUBLISHED_SCHEMA_URL);

  it("loads, with the four starter policies", () => {
    expect(parsePolicies(text).policies.map((p) => p.id)).toEqual([
      "api_budget",
      "rate_limit",
      "safe_delete",
      "business_hours",
    ]);
  });

  it("names in its comments only keys and values the schema accepts", () => {
    const known = schemaWords();
    const ids = new Set(parsePolicies(text).policies.map((p) => p.id));
    const comments = text
      .split("\n")
      .filter((line) => line.includes("#"))
      .map((line) => line.slice(line.indexOf("#") + 1))
      .join("\n")
      // Paths and URLs (node_modules/…) are not keys.
      .replace(/\S*\/\S*/g, "");
    const named = [...comments.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g)].map((m) => m[0]);
    expect(named.length).toBeGreaterThan(4);
    expect(named.filter((w) => !known.has(w) && !ids.has(w))).toEqual([]);
    // The comment once advertised hourly_budget, which no version accepted.
    expect(known.has("hourly_budget")).toBe(false);
  });

  it("points at documentation that exists, online and in the package", () => {
    expect(text).toContain(POLICY_DOCS_URL);
    const repo = pkg.repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
    expect(POLICY_DOCS_URL).toBe(`${repo}/blob/main/docs/policy-language.md`);
    expect(existsSync(join(ROOT, "docs", "policy-language.md"))).toBe(true);
    expect(text).toContain("node_modules/hexarch-guardrails/docs/policy-language.md");
    expect(pkg.files).toContain("docs");
  });
});
