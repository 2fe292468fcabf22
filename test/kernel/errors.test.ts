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
} from "../../src/index.ts";
import { OpaDecisionClient } from "../../src/opa/index.ts";
// Internal: the server's error answers, compared with docs/errors.md.
import { unavailable } from "../../src/server/errors.ts";

const ROOT = join(import.meta.dirname, "../..");
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

// ---------------------------------------------------------------- failure codes in src

/**
 * `source` with the text of every string, template, regular expression and comment
 * blanked out (same length, line breaks kept), so code can be searched without matching
 * words inside messages or comments. Template substitutions (`${…}`) stay: they are code.
 */
function codeOnly(source: string): string {
  const out = source.split("");
  const n = source.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < n; k++) if (out[k] !== "\n") out[k] = " ";
  };
  const substitutions: number[] = []; // brace depth at each open `${`
  let depth = 0;
  let last = ""; // the last code character that is not a space
  let i = 0;
  // From just past a backquote or a substitution's `}`: template text up to ` or ${.
  const template = (): void => {
    const start = i;
    while (i < n) {
      const c = source[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        blank(start, i);
        i++;
        last = "`";
        return;
      } else if (c === "$" && source[i + 1] === "{") {
        blank(start, i);
        substitutions.push(depth++);
        i += 2;
        last = "{";
        return;
      } else i++;
    }
    blank(start, n);
  };
  while (i < n) {
    const c = source[i] as string;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const e = end < 0 ? n : end;
      blank(i, e);
      i = e;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const e = end < 0 ? n : end + 2;
      blank(i, e);
      i = e;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== "\n") j += source[j] === "\\" ? 2 : 1;
      blank(i + 1, j);
      i = j + 1;
      last = c;
    } else if (c === "`") {
      i++;
      template();
    } else if (
      c === "/" &&
      (last === "" ||
        "(,=:[!&|?{};+-*%<>~^".includes(last) ||
        /(?:^|[^\w$])(?:return|typeof|case|void|throw|in|of|delete)\s*$/.test(
          source.slice(Math.max(0, i - 12), i),
        ))
    ) {
      // A regular expression literal: up to the `/` outside a character class.
      let j = i + 1;
      let inClass = false;
      while (j < n && source[j] !== "\n" && (inClass || source[j] !== "/")) {
        if (source[j] === "\\") j++;
        else if (source[j] === "[") inClass = true;
        else if (source[j] === "]") inClass = false;
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
      while (i < n && /[a-z]/.test(source[i] as string)) i++;
      last = "/";
    } else {
      if (c === "{") depth++;
      else if (c === "}") {
        if (substitutions.at(-1) === depth - 1) {
          substitutions.pop();
          depth--;
          i++;
          template();
          continue;
        }
        depth--;
      }
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return out.join("");
}

/** One `new Name(…)` call: the class, its arguments as written and blanked, and its line. */
interface ConstructorCall {
  readonly name: string;
  readonly args: string;
  readonly code: string;
  readonly line: number;
}

/** Every `new <Name>(…)` call in `source` (over as many lines as it takes). */
function constructorCalls(source: string): ConstructorCall[] {
  const masked = codeOnly(source);
  const calls: ConstructorCall[] = [];
  for (const m of masked.matchAll(/\bnew\s+([A-Za-z_$][\w$]*)\s*\(/g)) {
    const open = (m.index as number) + m[0].length;
    let depth = 1;
    let close = open;
    while (close < masked.length && depth > 0) {
      const c = masked[close];
      if (c === "(") depth++;
      else if (c === ")") depth--;
      close++;
    }
    calls.push({
      name: m[1] as string,
      args: source.slice(open, close - 1),
      code: masked.slice(open, close - 1),
      line: source.slice(0, m.index).split("\n").length,
    });
  }
  return calls;
}

/**
 * Where the `code` property of an options object given to the call is (an object literal
 * among its arguments, not one nested in them nor `${code}` in a message): the end of
 * `code:` and whether it has a value, or `undefined` when there is none.
 */
function optionsCode(masked: string): { end: number; value: boolean } | undefined {
  const open: string[] = []; // the brackets open at each point; "$" for a `${`
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i] as string;
    if (c === "$" && masked[i + 1] === "{") {
      open.push("$");
      i++;
    } else if ("([{".includes(c)) open.push(c);
    else if (")]}".includes(c)) open.pop();
    else if (
      open.length === 1 &&
      open[0] === "{" &&
      masked.startsWith("code", i) &&
      /[{,]\s*$/.test(masked.slice(0, i))
    ) {
      const after = /^code\s*([:,}])/.exec(masked.slice(i));
      if (after) {
        const value = after[1] === ":";
        return { end: i + (value ? after[0].length : 4), value };
      }
    }
  }
  return undefined;
}

/**
 * The codes a call's options give (`{ code: "store_closed" }`, or either branch of
 * `code: x ? "a" : "b"`); `undefined` when it sets no code, `[]` for one it computes.
 */
function codesOf(call: ConstructorCall): string[] | undefined {
  const at = optionsCode(call.code);
  if (!at) return undefined;
  if (!at.value) return []; // `{ code }`: a variable
  const start = at.end;
  let depth = 0;
  let end = start;
  for (; end < call.code.length; end++) {
    const c = call.code[end] as string;
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) {
      if (depth === 0) break;
      depth--;
    } else if (c === "," && depth === 0) break;
  }
  const expression = call.args.slice(start, end);
  return [...expression.matchAll(/(?:^|[?:])\s*"([^"]*)"/g)].map((m) => m[1] as string);
}

/** Built-in error classes: the library throws none of them itself. */
const PLAIN_ERRORS =
  /^(Error|RangeError|TypeError|SyntaxError|ReferenceError|EvalError|URIError|AggregateError)$/;

/** What src throws: the codes given per error, and the calls that break the rules. */
function scanSource(): { codes: Map<string, string[]>; uncoded: string[]; plain: string[] } {
  const codes = new Map<string, string[]>();
  const uncoded: string[] = [];
  const plain: string[] = [];
  for (const file of sources(join(ROOT, "src"))) {
    const text = readFileSync(file, "utf8");
    const where = (call: ConstructorCall) => `${file.slice(ROOT.length + 1)}:${call.line}`;
    const masked = codeOnly(text);
    // `Error("x")` without `new` builds one too.
    for (const m of masked.matchAll(/(?<![\w$.])(\w+)\s*\(/g)) {
      if (PLAIN_ERRORS.test(m[1] as string) && !/\bnew\s+$/.test(masked.slice(0, m.index))) {
        plain.push(`${file.slice(ROOT.length + 1)}:${text.slice(0, m.index).split("\n").length}`);
      }
    }
    for (const call of constructorCalls(text)) {
      if (PLAIN_ERRORS.test(call.name)) plain.push(where(call));
      // HttpError's code is its second argument: the HTTP table covers it.
      if (!call.name.endsWith("Error") || call.name === "HttpError") continue;
      const given = codesOf(call);
      if (call.name === "GuardrailError" && given === undefined) uncoded.push(where(call));
      for (const code of given ?? []) codes.set(code, [...(codes.get(code) ?? []), where(call)]);
    }
  }
  return { codes, uncoded, plain };
}

describe("failure codes", () => {
  const rows = tableUnder("## Failure codes");
  const documentedCodes = rows.map((cells) => unquote(cells[0]));

  it("lists each code once, in snake_case, with when, what to do and the HTTP status", () => {
    expect(rows.length).toBeGreaterThan(20);
    expect(new Set(documentedCodes).size).toBe(documentedCodes.length);
    for (const [i, cells] of rows.entries()) {
      expect(documentedCodes[i], cells[0]).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(cells, `the row of ${cells[0]}`).toHaveLength(4);
      for (const cell of cells) expect(cell, `a cell of ${cells[0]}`).not.toBe("");
    }
    // A failure's code is not also a class's: a switch on the code could not tell them apart.
    const classCodes = new Set(documented.values());
    expect(documentedCodes.filter((c) => classCodes.has(c))).toEqual([]);
  });

  it("lists every code src gives an error, and none that it does not", () => {
    const { codes } = scanSource();
    const used = [...codes.keys()];
    expect(
      used.filter((c) => !documentedCodes.includes(c)).map((c) => `${c} (${codes.get(c)?.[0]})`),
      "codes missing from docs/errors.md",
    ).toEqual([]);
    expect(
      documentedCodes.filter((c) => !codes.has(c)),
      "documented codes no error in src carries",
    ).toEqual([]);
  });

  it("has no GuardrailError without a code, and no built-in Error, anywhere in src", () => {
    const { uncoded, plain } = scanSource();
    expect(uncoded, "new GuardrailError(…) without { code }").toEqual([]);
    expect(plain, "new Error / RangeError / TypeError in src").toEqual([]);
  });

  it("reads calls over several lines, and not words inside strings, templates or comments", () => {
    const text = [
      '// new Error("in a comment") and new GuardrailError("x")',
      "const a = new GuardrailError(",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template
      "  `timeout (code ${code}) at ${f(1, { code: 2 })}`,",
      '  { cause: err, code: "store_closed" },',
      ");",
      'const b = new GuardrailError("no code: here (none)");',
      'const c = new GuardrailError("x", { code: ok ? "a_b" : "c_d" });',
      'const d = /["\'`(]/.test(s) ? new RangeError("r") : s.replace(/\\//g, "new Error(");',
      "const e = new GuardrailError(m, { code });",
    ].join("\n");
    const calls = constructorCalls(text);
    expect(calls.map((c) => [c.name, c.line])).toEqual([
      ["GuardrailError", 2],
      ["GuardrailError", 6],
      ["GuardrailError", 7],
      ["RangeError", 8],
      ["GuardrailError", 9],
    ]);
    expect(calls.map(codesOf)).toEqual([
      ["store_closed"],
      undefined,
      ["a_b", "c_d"],
      undefined,
      [],
    ]);
  });
});
