/**
 * Stable error codes: every exported error class has its own code, documented in
 * docs/errors.md — read here, so the table and the code cannot drift apart — and every
 * HTTP error code the decision server answers with is in the same document.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfirmationRequired,
  DecisionBackendError,
  Guardian,
  GuardrailError,
  PolicyFileError,
  PolicyViolation,
  RemoteDecisionClient,
  UnknownPolicyError,
} from "../src/index.ts";
import { OpaDecisionClient } from "../src/opa/index.ts";
import { unavailable } from "../src/server/errors.ts";

const ROOT = join(import.meta.dirname, "..");
const DOC = readFileSync(join(ROOT, "docs/errors.md"), "utf8");

/** The rows of the Markdown table under `heading`, as arrays of cells (header row left out). */
function tableUnder(heading: string): string[][] {
  const start = DOC.indexOf(`\n${heading}\n`);
  expect(start, `docs/errors.md has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of DOC.slice(start + heading.length + 2).split("\n")) {
    if (line.startsWith("|")) {
      inTable = true;
      const cells = line
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim());
      if (!/^-+$/.test(cells[0]?.replace(/\|/g, "") ?? "")) rows.push(cells);
    } else if (inTable) break;
  }
  return rows.slice(1); // the header
}

const unquote = (cell: string | undefined): string => /^`([^`]+)`$/.exec(cell ?? "")?.[1] ?? "";

/** Class name → code, as docs/errors.md lists them. */
const documented = new Map(
  tableUnder("## Error classes").map((cells) => [unquote(cells[0]), unquote(cells[1])]),
);

type ErrorClass = abstract new (...args: never[]) => Error;

/** Every Error class exported by any entry of package.json's `exports`, by exported name. */
async function exportedErrorClasses(): Promise<Map<string, ErrorClass>> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    exports: Record<string, string | { default?: string }>;
  };
  const found = new Map<string, ErrorClass>();
  for (const target of Object.values(pkg.exports)) {
    const file = typeof target === "string" ? target : target.default;
    if (!file?.startsWith("./dist/") || !file.endsWith(".js")) continue;
    const source = join(ROOT, file.replace("./dist/", "src/").replace(/\.js$/, ".ts"));
    const mod = (await import(source)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value === "function" && value.prototype instanceof Error) {
        found.set(name, value as ErrorClass);
      }
    }
  }
  return found;
}

/** Errors of the library that are not GuardrailErrors, on purpose. */
const NOT_GUARDRAIL_ERRORS = new Set([
  // The server's HTTP answer: its code is the HTTP code (second table), set per instance.
  "HttpError",
]);

describe("error codes", () => {
  it("documents every exported error class with its code, and nothing else", async () => {
    const classes = await exportedErrorClasses();
    const guardrailErrors = [...classes].filter(
      ([, cls]) => cls === GuardrailError || cls.prototype instanceof GuardrailError,
    );
    const others = [...classes.keys()].filter((n) => !guardrailErrors.some(([g]) => g === n));
    expect(others.sort(), "exported errors that do not extend GuardrailError").toEqual(
      [...NOT_GUARDRAIL_ERRORS].sort(),
    );
    const actual = new Map(
      guardrailErrors.map(([name, cls]) => [name, (cls.prototype as GuardrailError).code]),
    );
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(documented));
  });

  it("gives each class its own name and a distinct snake_case code, set on the class itself", async () => {
    const classes = await exportedErrorClasses();
    const codes: string[] = [];
    for (const name of documented.keys()) {
      const proto = (classes.get(name) as ErrorClass).prototype as GuardrailError;
      expect(Object.hasOwn(proto, "code"), `${name} calls defineErrorCode`).toBe(true);
      expect(proto.name).toBe(name);
      expect(proto.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      codes.push(proto.code);
    }
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("carries the code on errors the library throws, and on subclasses of them", async () => {
    const guardian = new Guardian({
      env: {},
      policies:
        "policies:\n  - id: p\n    rules:\n      - { requests_per_minute: 1, action: block }\n",
    });
    let thrown: unknown;
    try {
      guardian.check("nope");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UnknownPolicyError);
    expect(thrown).toBeInstanceOf(GuardrailError);
    expect(thrown).toMatchObject({ code: "unknown_policy", name: "UnknownPolicyError" });

    const once = guardian.check("p")(async () => "ran");
    expect(await once()).toBe("ran");
    const refused = await once().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PolicyViolation);
    expect(refused).toMatchObject({ code: "policy_violation", name: "PolicyViolation" });

    // A subclass keeps its parent's code unless it sets its own.
    class MyFileError extends PolicyFileError {}
    const mine = new MyFileError("bad");
    expect(mine.code).toBe("policy_file_invalid");
    expect(mine).toBeInstanceOf(GuardrailError);
    const confirm = Object.create(ConfirmationRequired.prototype) as ConfirmationRequired;
    expect(confirm.code).toBe("confirmation_required");
    expect(confirm).toBeInstanceOf(PolicyViolation);
    // The code is not an own field: spreading or serializing an error does not repeat it.
    expect(Object.keys(mine)).not.toContain("code");
  });

  it("keeps the family's code on the internal backend errors, with their own names", async () => {
    const opa = new OpaDecisionClient({
      url: "http://127.0.0.1:1",
      fetch: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1")),
    });
    const opaError = await Promise.resolve()
      .then(() => opa.decide("p", {}))
      .catch((e: unknown) => e);
    expect(opaError).toBeInstanceOf(DecisionBackendError);
    expect(opaError).toMatchObject({
      name: "OpaUnavailable",
      code: "decision_backend_unavailable",
    });

    const remote = new RemoteDecisionClient({ url: "http://127.0.0.1:1" });
    await remote.close();
    const remoteError = await Promise.resolve()
      .then(() => remote.decide("p", {}))
      .catch((e: unknown) => e);
    expect(remoteError).toBeInstanceOf(DecisionBackendError);
    expect(remoteError).toMatchObject({
      name: "ServerUnavailable",
      code: "decision_backend_unavailable",
    });
  });
});

/** Every TypeScript file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** `status code` pairs the server's source answers with, found by reading it. */
function httpCodesInSource(): Set<string> {
  const found = new Set<string>();
  for (const file of sources(join(ROOT, "src/server"))) {
    const text = readFileSync(file, "utf8");
    const add = (status: string, code: string) => found.add(`${status} ${code}`);
    // new HttpError(404, "unknown_policy", …), errorBody(404, "route_not_found", …),
    // and the client-error table's [408, "request_timeout", …].
    for (const m of text.matchAll(/(?:new HttpError\(|errorBody\(|\[)\s*(\d{3}),\s*"([a-z_]+)"/g))
      add(m[1] as string, m[2] as string);
    for (const m of text.matchAll(/unprocessable\(\s*"([a-z_]+)"/g)) add("422", m[1] as string);
    // invalid_<part> for schema violations.
    const part = /const PART[^=]*=\s*\{([^}]*)\}/.exec(text);
    for (const m of part?.[1]?.matchAll(/:\s*"([a-z]+)"/g) ?? []) add("400", `invalid_${m[1]}`);
    // backend("audit log", …), unavailable("confirmation store", …), backend(STORE, …).
    const consts = new Map(
      [...text.matchAll(/const ([A-Z_]+) = "([^"]+)";/g)].map((m) => [m[1], m[2]]),
    );
    for (const m of text.matchAll(/(?:backend|unavailable)\(\s*(?:"([^"]+)"|([A-Z_]+)\b)/g)) {
      const what = m[1] ?? consts.get(m[2] as string);
      if (what) add("503", unavailable(what, undefined).code);
    }
  }
  return found;
}

describe("HTTP error codes", () => {
  const rows = tableUnder("## HTTP error codes").map((cells) => `${cells[0]} ${unquote(cells[1])}`);

  it("lists one code per row, each once, in snake_case", () => {
    expect(rows.length).toBeGreaterThan(30);
    expect(new Set(rows).size).toBe(rows.length);
    for (const row of rows) expect(row).toMatch(/^\d{3} [a-z]+(_[a-z]+)*$/);
  });

  it("lists every code the server answers with, with its status, and none it does not", () => {
    const inSource = httpCodesInSource();
    expect([...inSource].filter((c) => !rows.includes(c)).sort(), "missing from the doc").toEqual(
      [],
    );
    expect(rows.filter((c) => !inSource.has(c)).sort(), "not in src/server").toEqual([]);
  });
});
