import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

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

describe("the import graph", () => {
  it("keeps the core entry free of database and Redis drivers", () => {
    const { packages, files } = importGraph("index.ts");
    expect(files.size).toBeGreaterThan(10);
    const external = [...packages].filter((p) => !p.startsWith("node:"));
    expect(external.sort()).toEqual(["jose", "re2js", "yaml", "zod"]);
    // node:sqlite is for hexarch-guardrails/audit only (it warns on older Node versions).
    expect(packages.has("node:sqlite")).toBe(false);
    expect([...files].filter((f) => f.includes("/src/redis/"))).toEqual([]);
  });

  it("keeps the audit entry free of database drivers but node:sqlite", () => {
    const { packages } = importGraph("audit/index.ts");
    const external = [...packages].filter((p) => !p.startsWith("node:"));
    expect(external.every((p) => ["re2js", "yaml", "zod"].includes(p))).toBe(true);
    expect(packages.has("node:sqlite")).toBe(true);
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
    // …and the server is where they are imported.
    const served = importGraph("server/index.ts").packages;
    for (const p of server) expect(served.has(p)).toBe(true);
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
});
