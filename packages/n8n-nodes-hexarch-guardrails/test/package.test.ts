/**
 * The built package as n8n loads it: `npm run build`'s output, each file of package.json's
 * `n8n` section required as CommonJS, the class named after the file instantiated, and its
 * description checked the way n8n's editor reads it.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ICredentialType, INodeType, INodeTypeDescription } from "n8n-workflow";
import { NodeHelpers } from "n8n-workflow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PKG = fileURLToPath(new URL("..", import.meta.url));
const manifest = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")) as {
  name: string;
  keywords: string[];
  files: string[];
  main?: string;
  n8n: { n8nNodesApiVersion: number; credentials: string[]; nodes: string[] };
};

let root: string;
const require = createRequire(import.meta.url);

beforeAll(() => {
  // Built as `npm run build` builds, into an installed-looking copy of the package.
  root = mkdtempSync(join(tmpdir(), "n8n-nodes-hexarch-"));
  const build = spawnSync(process.execPath, [join(PKG, "scripts/build.mjs"), join(root, "dist")], {
    encoding: "utf8",
  });
  expect(build.stderr + build.stdout).toBe("");
  expect(build.status).toBe(0);
  cpSync(join(PKG, "package.json"), join(root, "package.json"));
  symlinkSync(join(PKG, "node_modules"), join(root, "node_modules"), "dir");
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Requires a built file and instantiates the class named after it, as n8n's loader does. */
function load<T>(path: string, suffix: string): { instance: T; file: string } {
  const file = join(root, path);
  const className = basename(file, suffix);
  const mod = require(file) as Record<string, new () => T>;
  const Class = mod[className];
  if (typeof Class !== "function") throw new Error(`${path} exports no class ${className}`);
  return { instance: new Class(), file };
}

/** The file a `file:` icon names, relative to the built file that names it. */
function iconFiles(icon: unknown, file: string): string[] {
  const refs = typeof icon === "string" ? [icon] : Object.values(icon as Record<string, string>);
  return refs.map((ref) => {
    expect(ref).toMatch(/^file:/);
    return join(dirname(file), ref.slice("file:".length));
  });
}

describe("the built package", () => {
  it("is a community node package n8n can find", () => {
    expect(manifest.name).toMatch(/^n8n-nodes-/);
    expect(manifest.keywords).toContain("n8n-community-node-package");
    expect(manifest.files).toContain("dist");
    expect(manifest.n8n.n8nNodesApiVersion).toBe(1);
    for (const path of [...manifest.n8n.nodes, ...manifest.n8n.credentials])
      expect(existsSync(join(root, path)), path).toBe(true);
  });

  it("has credentials the nodes name, with an icon, a bearer header and a test request", () => {
    const names = new Set<string>();
    for (const path of manifest.n8n.credentials) {
      const { instance, file } = load<ICredentialType>(path, ".credentials.js");
      names.add(instance.name);
      expect(instance.properties.map((p) => p.name)).toEqual(["url", "token"]);
      expect(instance.properties.find((p) => p.name === "token")?.typeOptions?.password).toBe(true);
      expect(instance.authenticate).toMatchObject({
        type: "generic",
        properties: { headers: { Authorization: "=Bearer {{$credentials.token}}" } },
      });
      expect(instance.test?.request.url).toBe("/whoami");
      for (const icon of iconFiles(instance.icon, file)) expect(existsSync(icon), icon).toBe(true);
    }
    expect([...names]).toEqual(["hexarchGuardrailsApi"]);

    for (const path of manifest.n8n.nodes) {
      const { instance } = load<INodeType>(path, ".node.js");
      for (const c of instance.description.credentials ?? []) expect(names).toContain(c.name);
    }
  });

  it("has a node whose description n8n resolves to its defaults", () => {
    const [path] = manifest.n8n.nodes;
    const { instance, file } = load<INodeType>(path as string, ".node.js");
    const d: INodeTypeDescription = instance.description;
    expect(d).toMatchObject({ name: "hexarchGuardrails", displayName: "Hexarch Guardrails" });
    expect(d.version).toBe(1);
    expect(typeof instance.execute).toBe("function");
    for (const icon of iconFiles(d.icon, file)) expect(existsSync(icon), icon).toBe(true);

    // The codex beside the node, naming it as n8n does: <package>.<node name>.
    const codex = JSON.parse(readFileSync(file.replace(/\.js$/, ".json"), "utf8")) as {
      node: string;
    };
    expect(codex.node).toBe(`${manifest.name}.${d.name}`);

    const defaults = NodeHelpers.getNodeParameters(
      d.properties,
      {},
      true,
      false,
      { typeVersion: 1 },
      d,
    );
    expect(defaults).toMatchObject({
      operation: "authorize",
      policyId: "",
      contextSource: "json",
      outputMode: "route",
    });
    const report = NodeHelpers.getNodeParameters(
      d.properties,
      { operation: "reportProviderCall" },
      true,
      false,
      { typeVersion: 1 },
      d,
    );
    expect(report).toMatchObject({ resource: "", tokensIn: 0, tokensOut: 0, costUsd: 0 });
    expect(report).not.toHaveProperty("policyId");

    // Every option of the Operation parameter names an action for n8n's node panel.
    const operation = d.properties.find((p) => p.name === "operation");
    expect(operation?.options?.map((o) => ("value" in o ? o.value : undefined))).toEqual([
      "approve",
      "authorize",
      "deny",
      "reportProviderCall",
    ]);
  });

  it("has two outputs (Allowed, Denied) when it routes decisions, one otherwise", () => {
    const [path] = manifest.n8n.nodes;
    const { instance } = load<INodeType>(path as string, ".node.js");
    const outputs = instance.description.outputs;
    expect(typeof outputs).toBe("string");
    const expression = String(outputs).replace(/^=\{\{([\s\S]*)\}\}$/, "$1");
    const evaluate = new Function("$parameter", `return (${expression});`) as (
      p: Record<string, string>,
    ) => Array<{ type: string; displayName?: string }>;
    expect(evaluate({ operation: "authorize", outputMode: "route" })).toEqual([
      { type: "main", displayName: "Allowed" },
      { type: "main", displayName: "Denied" },
    ]);
    expect(evaluate({ operation: "authorize", outputMode: "continue" })).toEqual([
      { type: "main" },
    ]);
    expect(evaluate({ operation: "reportProviderCall", outputMode: "route" })).toEqual([
      { type: "main" },
    ]);
  });
});

describe("the example workflows", () => {
  const examples = ["guard-openai-call.json", "guard-with-if.json"];

  it.each(examples)(
    "%s wires existing nodes and gives this node only its own parameters",
    (name) => {
      const workflow = JSON.parse(readFileSync(join(PKG, "examples", name), "utf8")) as {
        nodes: Array<{
          name: string;
          type: string;
          typeVersion: number;
          parameters: Record<string, unknown>;
          credentials?: Record<string, unknown>;
        }>;
        connections: Record<string, { main: Array<Array<{ node: string }>> }>;
      };
      const names = new Set(workflow.nodes.map((n) => n.name));
      expect(names.size).toBe(workflow.nodes.length);
      for (const [from, { main }] of Object.entries(workflow.connections)) {
        expect(names).toContain(from);
        for (const targets of main) for (const t of targets) expect(names).toContain(t.node);
      }
      const [path] = manifest.n8n.nodes;
      const { description: d } = load<INodeType>(path as string, ".node.js").instance;
      const ours = workflow.nodes.filter((n) => n.type === `${manifest.name}.${d.name}`);
      expect(ours.length).toBeGreaterThanOrEqual(2);
      const known = new Set(d.properties.map((p) => p.name));
      for (const node of ours) {
        expect(node.typeVersion).toBe(1);
        expect(Object.keys(node.credentials ?? {})).toEqual(["hexarchGuardrailsApi"]);
        for (const key of Object.keys(node.parameters)) expect(known, key).toContain(key);
        const resolved = NodeHelpers.getNodeParameters(
          d.properties,
          node.parameters as never,
          true,
          false,
          { typeVersion: 1 },
          d,
        );
        expect(resolved).toMatchObject(node.parameters);
        // A routing Authorize node has both its outputs wired.
        if (node.parameters.operation === "authorize" && node.parameters.outputMode === "route")
          expect(workflow.connections[node.name]?.main).toHaveLength(2);
      }
    },
  );
});

describe("npm pack", () => {
  it("builds before packing, so the tarball holds every file the n8n section names", () => {
    const scripts = (
      JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.prepack).toContain("scripts/build.mjs");
    expect(scripts.prepublishOnly).toContain("scripts/build.mjs");
    // From a checkout with no dist/: `npm pack` must build it (the prepack script).
    rmSync(join(PKG, "dist"), { recursive: true, force: true });
    const bin = dirname(process.execPath);
    const pack = spawnSync("npm", ["pack", "--dry-run", "--json"], {
      cwd: PKG,
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    });
    expect(pack.status, pack.stderr).toBe(0);
    // npm prints the lifecycle script's banner before the JSON.
    const json = pack.stdout.slice(pack.stdout.search(/^\[/m));
    const [result] = JSON.parse(json) as Array<{ files: Array<{ path: string }> }>;
    const files = new Set(result?.files.map((f) => f.path));
    for (const path of [...manifest.n8n.nodes, ...manifest.n8n.credentials]) {
      expect(files, path).toContain(path);
    }
    expect(files).toContain("dist/nodes/HexarchGuardrails/HexarchGuardrails.node.json");
    expect(files).toContain("dist/icons/hexarch.svg");
    expect(files).toContain("LICENSE");
    expect([...files].some((f) => f.endsWith(".map"))).toBe(false);
  }, 120_000);
});
