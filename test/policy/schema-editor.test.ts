/**
 * What an editor shows for hexarch.yaml: the real yaml-language-server (the server behind
 * VS Code's YAML extension and most editors' YAML support), run as an LSP process over the
 * checked-in schema. No network: schemas are local files and the schema store is off.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Internal: the starter file hexarch-ctl init writes.
import { schemaReference, starterPolicyFile } from "../../src/cli/starter.ts";
import { parsePolicies } from "../../src/index.ts";
import { type LspDiagnostic, YamlLanguageServer } from "../support/yaml-lsp.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCHEMA = join(ROOT, "schema", "hexarch.schema.json");

let dir = "";
let server: YamlLanguageServer;
let docs = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hexarch-editor-"));
  server = await YamlLanguageServer.start(dir);
}, 15_000);

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens `body` under the schema modeline; returns its URI and the text as opened. */
function open(body: string, schema = SCHEMA, file?: string): { uri: string; text: string } {
  const text = `# yaml-language-server: $schema=${schema}\n${body}`;
  const path = file ?? join(dir, `doc${docs++}.yaml`);
  writeFileSync(path, text);
  return { uri: server.open(path, text), text };
}

/** The diagnostics of a document with mistakes (waits for a non-empty publication). */
async function problems(body: string): Promise<{ text: string; diagnostics: LspDiagnostic[] }> {
  const { uri, text } = open(body);
  return { text, diagnostics: await server.diagnostics(uri) };
}

/** The diagnostic on the line holding `needle`. */
function on(text: string, diagnostics: readonly LspDiagnostic[], needle: string): LspDiagnostic[] {
  const line = text.split("\n").findIndex((l) => l.includes(needle));
  if (line < 0) throw new Error(`no line contains ${needle}`);
  return diagnostics.filter((d) => d.range.start.line === line);
}

/** Diagnostics of a document the loader accepts; proves the schema applied via hover. */
async function cleanCheck(body: string): Promise<LspDiagnostic[]> {
  const { uri, text } = open(body);
  const diagnostics = await server.diagnostics(uri, () => true);
  const line = text.split("\n").indexOf("policies:");
  const hover = await server.hover(uri, { line, character: 3 });
  expect(hover, "the schema was not applied (no hover on policies:)").toContain("unique id");
  return diagnostics;
}

const MISTAKES = `policies:
  - id: api
    rules:
      - resource: openai
        requests_per_minite: 100
        action: blok
      - requests_per_minute: lots
        allowed_hours: "9-17"
        allowed_days: [monday, funday]
        when:
          - { field: amount, op: bigger, value: 3 }
          - { field: tier, operator: in, value: gold }
`;

describe("yaml-language-server over hexarch.yaml", () => {
  it("names each mistake with a human message", async () => {
    const { text, diagnostics } = await problems(MISTAKES);
    const at = (needle: string) => on(text, diagnostics, needle).map((d) => d.message);

    expect(at("requests_per_minite")).toEqual([
      expect.stringContaining("requests_per_minite is not allowed"),
    ]);
    expect(at("action: blok")).toEqual([
      expect.stringMatching(/^unknown action: use block, warn, require_confirmation.*warn_at_80%/),
    ]);
    expect(at("requests_per_minute: lots")).toEqual([
      "requests_per_minute: expected a whole number greater than 0",
    ]);
    expect(at('allowed_hours: "9-17"')).toEqual([
      expect.stringContaining('time window "HH:MM-HH:MM"'),
    ]);
    expect(at("funday")).toEqual([expect.stringContaining("expected a day: monday")]);
    expect(at("op: bigger")).toEqual([
      expect.stringMatching(/^unknown operator: use one of equals, .*greater_than/),
    ]);
    expect(at("operator: in, value: gold")).toEqual([
      "in / not_in expect a list of values, e.g. [free, trial]",
    ]);
    for (const d of diagnostics) {
      // No raw regular expression, no "does not match the pattern".
      expect(d.message).not.toMatch(/pattern|\^\(|\\d/);
    }
    // Each mistake once; nothing flagged that is right.
    expect(diagnostics).toHaveLength(7);
  });

  it("flags a comparison without field or operator, and keys beside all/any/not", async () => {
    const { text, diagnostics } = await problems(`policies:
  - id: p
    rules:
      - when:
          - { operator: equals, value: 1 }
          - { field: tier, value: gold }
          - { all: [{ tier: gold }], extra: 1 }
          - { field: amount, opp: gt, value: 3 }
`);
    expect(on(text, diagnostics, "{ operator: equals").map((d) => d.message)).toEqual([
      expect.stringContaining('"field"'),
    ]);
    expect(on(text, diagnostics, "{ field: tier, value: gold }").map((d) => d.message)).toEqual([
      "a comparison needs operator (or op), e.g. operator: equals",
    ]);
    expect(on(text, diagnostics, "extra: 1").map((d) => d.message)).toEqual([
      expect.stringContaining("extra is not allowed"),
    ]);
    expect(on(text, diagnostics, "opp: gt").map((d) => d.message)).toContainEqual(
      expect.stringContaining("opp is not allowed"),
    );
  });

  it("completes the shapes of a condition inside when:", async () => {
    const body = "policies:\n  - id: p\n    rules:\n      - when:\n          - \n";
    const { uri } = open(body);
    const labels = (await server.completion(uri, { line: 5, character: 12 })).map((i) => i.label);
    expect(labels).toEqual(
      expect.arrayContaining(["field", "operator", "op", "value", "all", "any", "not"]),
    );
    expect(labels).toContain("field / operator / value");
  });

  it("completes operators and actions, with a description of each", async () => {
    const body = `policies:
  - id: p
    rules:
      - action: 
        when:
          - field: amount
            operator: 
`;
    const { uri } = open(body);
    const actions = await server.completion(uri, { line: 4, character: 16 });
    expect(actions.map((i) => i.label)).toEqual(
      expect.arrayContaining(["block", "warn", "require_confirmation", "allow"]),
    );
    const operators = await server.completion(uri, { line: 7, character: 22 });
    expect(operators.map((i) => i.label)).toEqual(
      expect.arrayContaining(["equals", "in", "greater_than", "matches", "gt", "not_exists"]),
    );
    const gt = operators.find((i) => i.label === "gt");
    expect(JSON.stringify(gt?.documentation)).toContain("alias of greater_than");
  });

  it("completes rule keys, and shows what a key means and its default on hover", async () => {
    const body = "policies:\n  - id: p\n    rules:\n      - monthly_budget: 5\n        \n";
    const { uri } = open(body);
    const keys = (await server.completion(uri, { line: 5, character: 8 })).map((i) => i.label);
    expect(keys).toEqual(
      expect.arrayContaining([
        "requests_per_minute",
        "daily_budget",
        "when",
        "requires_confirmation",
      ]),
    );
    expect(keys).not.toContain("hourly_budget");
    expect(await server.hover(uri, { line: 4, character: 10 })).toContain("USD per calendar month");
  });

  it("flags nothing in files the loader accepts", async () => {
    const fixtures = ["web-service", "local-llm", "spend-headroom", "notebook-dump"].map((f) =>
      readFileSync(join(ROOT, "test", "fixtures", "python", `${f}.yaml`), "utf8"),
    );
    const tricky = `policies:
  - id: p
    timezone: Europe/Berlin
    rules:
      - operation: [delete, "drop_*"]
        allowed_days: [Mon, TUESDAY, weekends]
        allowed_hours: ["09:00-12:00", "13:00 - 24:00"]
        denied_windows:
          - "12:00-13:00"
          - { days: fri, hours: "15:00-24:00" }
          - { start: "2026-12-24T00:00", end: "2026-12-27T00:00" }
        requires_confirmation: true
      - when:
          - { field: "user.roles[0]", operator: " GT ", value: 3 }
          - { field: amount, op: between, value: [1, 10] }
          - { field: deleted_at, operator: not_exists }
          - { environment: production, "user.tier": [free, trial] }
          - any: [{ region: eu }, { not: { field: vip, op: "==", value: true } }]
        action: warn_at_80%
        monthly_budget: 10
        alert_at_percentage: 80
`;
    for (const body of [...fixtures, tricky, starterPolicyFile(SCHEMA)]) {
      expect(() => parsePolicies(body)).not.toThrow();
      expect(await cleanCheck(body)).toEqual([]);
    }
  });
});

describe("the starter file hexarch-ctl init writes", () => {
  it("finds the installed package's schema through node_modules, relative to the file", async () => {
    const project = join(dir, "project");
    mkdirSync(join(project, "node_modules"), { recursive: true });
    mkdirSync(join(project, "config"));
    symlinkSync(ROOT, join(project, "node_modules", "hexarch-guardrails"), "dir");
    const ref = schemaReference(join(project, "config"));
    expect(ref).toBe("../node_modules/hexarch-guardrails/schema/hexarch.schema.json");

    const starter = starterPolicyFile(ref);
    const file = join(project, "config", "hexarch.yaml");
    writeFileSync(file, starter);
    const clean = server.open(file, starter);
    expect(await server.diagnostics(clean, () => true)).toEqual([]);
    expect(await server.hover(clean, { line: 18, character: 10 })).toContain(
      "USD per calendar month",
    );

    // The same file with a mistake, through the same relative reference.
    const broken = join(project, "config", "broken.yaml");
    const text = starter.replace("monthly_budget: 10", "monthly_budget: ten");
    writeFileSync(broken, text);
    const diagnostics = await server.diagnostics(server.open(broken, text));
    expect(diagnostics.map((d) => d.message)).toEqual([
      "monthly_budget: expected a number greater than 0",
    ]);
  });
});
