/**
 * The fast reader for plain policy files must mean exactly what the full `yaml` parser
 * means: same data, same accept/refuse, same positions for every mapping and list. It is
 * checked here against `yaml` itself on generated policy-like documents, valid and broken.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { LineCounter, parseDocument } from "yaml";
import { PolicyFileError, parsePolicies } from "../../src/index.ts";
// Internal: the fast reader of plain policy files, compared with the yaml package.
import { readFastYaml, unpackPosition } from "../../src/policy/fast-yaml.ts";
// Internal: the issue collector the fast reader reports to.
import { IssueCollector } from "../../src/policy/issues.ts";
// Internal: the yaml package's options the fast reader must agree with.
import { readYamlSource, YAML_PARSE_OPTIONS } from "../../src/policy/yaml-source.ts";

/** What the loader did before the fast reader: the full parser, every problem refused. */
function fullRead(text: string) {
  const lines = new LineCounter();
  const doc = parseDocument(text, { ...YAML_PARSE_OPTIONS, lineCounter: lines, logLevel: "error" });
  if (doc.errors.length > 0) return undefined;
  try {
    const data: unknown = doc.toJS({ maxAliasCount: 10_000 });
    return data === null || data === undefined ? undefined : { data, doc, lines };
  } catch {
    return undefined;
  }
}

function accepts(text: string): boolean {
  try {
    readYamlSource(text, "t.yaml", "a 'policies:' list");
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyFileError);
    return false;
  }
}

/** Every path to a mapping or list in `data`. */
function containerPaths(data: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (data === null || typeof data !== "object") return [];
  const out = [path];
  const entries = Array.isArray(data) ? data.map((v, i) => [i, v] as const) : Object.entries(data);
  for (const [k, v] of entries) out.push(...containerPaths(v, [...path, k]));
  return out;
}

function get(data: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, seg) => (node as Record<string | number, unknown>)[seg], data);
}

let fastCount = 0;
let acceptedCount = 0;

/** Checks one document: fast ⇒ the full parser accepts it with equal data and positions. */
function check(text: string): void {
  const full = fullRead(text);
  const fast = readFastYaml(text);
  if (full) acceptedCount++;
  if (fast) {
    fastCount++;
    expect(full, `fast reader accepted what yaml refuses:\n${text}`).toBeDefined();
    if (!full) return;
    expect(fast.data, text).toStrictEqual(full.data);
    const slow = new IssueCollector("t.yaml", full.doc, full.lines);
    for (const path of containerPaths(fast.data)) {
      const packed = fast.starts.get(get(fast.data, path) as object);
      expect(packed, `no position for ${path.join(".")}`).toBeDefined();
      expect(unpackPosition(packed as number), `${path.join(".")} in\n${text}`).toEqual(
        slow.position(path),
      );
    }
  }
  // Through the loader, accept/refuse is the full parser's (cycles aside, which need aliases).
  if (!text.includes("*")) expect(accepts(text), text).toBe(full !== undefined);
}

/** Scalars the fast reader takes (all YAML 1.2 core forms), then ones it leaves to yaml. */
const PLAIN_SCALARS = [
  ...["yes", "no", "on", "off", "~", "null", "NULL", "true", "False", "0", "-0", "+0", "007"],
  ...["0o17", "0o8", "0x1F", "0X1F", "0b101", "1_000", "1e3", "-.5e+2", ".inf", ".NaN", "1.0"],
  ...["12345678901234567890", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30", "a:b"],
  ...["a#b", "-x", "Europe/Berlin", "warn_at_80%", "delete", "é", "'it''s'", '"a"b"', "a b"],
  ...["[a, b]", "[ -1 , 'b' ]", '["x", 1, null]', "[]", "a,b", "x'y", '"\u00e9\n"', "nULL"],
];
const SCALARS = [
  ...["yes", "no", "on", "off", "Yes", "NO", "y", "n", "Y", "~", "null", "Null", "NULL", "nULL"],
  ...["true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "fAlse"],
  ...["0", "-0", "+0", "007", "-007", "0o17", "0o8", "0O17", "0x1F", "0X1F", "0xg", "-0x1F"],
  ...["0b101", "1_000", "1e3", "1E-3", "+1.5", ".5", "5.", "-.5e+2", "1.e5", "12e", "1.2.3"],
  ...[".inf", "-.Inf", "+.INF", ".nan", ".NaN", ".NAN", "NaN", "inf", "-.nan", "1.0", "0.10"],
  ...["12345678901234567890", "9007199254740993", "0.1", "-1", "+", "-", "."],
  ...["2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "12:30"],
  ...["12:30:00", "22:00-06:00", "1:2", "a:b", "a: b", "a:", "a #b", "a#b", "#x", "- x", "-x"],
  ...["?x", "? x", ":x", ": x", "@x", "`x", "%x", "&a", "*a", "!x", "!!str 1", "!!int 7", "|"],
  ...[">", "|-", "[a, b]", "[]", "[a,b,]", "[ a , 'b' ]", '["x", 1, null]', "[a, [b]]"],
  ...["{a: 1}", "{}", "a,b", "a]", "a}", "[", "]", "{", "}", "'q'", '"q"', "x'y", 'x"y', "a  b"],
  ...["Europe/Berlin", "warn_at_80%", "delete", "é", "日本語", "a\u00a0b", "\u00a0", "<<"],
  ...["__proto__", "toString", "'it''s'", "'a''", '"a\\"b"', '"\\x41\\e\\0\\N\\_"', '"\\u00e9"'],
  ...['"\\/"', '"\\t"', '"\\q"', '"\\U0001F600"', '"a\\\nb"', "'a\n b'", '"a\n  b"'],
];
const KEYS = [
  ...["policies", "id", "rules", "operation", "action", "timezone", "when", "field", "value"],
  ...["requests_per_minute", "daily_budget", "resource", "enabled", "name", "<<", "__proto__"],
  ...["1", "0x1", "true", "null", "~", "", "a b", "a  b", "toString", "é", '"q"', "'q'", "x:y"],
  ...['"id"', "'id'", "-k", "k-", "a.b", "a/b", "? k", "k #c", "$k", "(k)", '"a\\tb"'],
];

const PLAIN_KEYS = ["policies", "id", "rules", "operation", "when", "a b", "é", '"q"', "'id'"];
const keyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PLAIN_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(..."aé1 -_.:#'\"$/()+<>?") }) },
);
const scalarArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...PLAIN_SCALARS) },
  { weight: 2, arbitrary: fc.constantFrom(...SCALARS) },
  {
    weight: 2,
    arbitrary: fc.string({ unit: fc.constantFrom(..."ab1 :#-'\"\\[]{},.é\t!&*%@`|>?~\u2028") }),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string().map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.string().map((s) => `'${s.replaceAll("'", "''")}'`) },
);

type Tree =
  | { kind: "scalar"; text: string }
  | { kind: "map"; entries: [string, Tree][]; style: number }
  | { kind: "seq"; items: Tree[]; style: number };

const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("scalar" as const), text: scalarArb }),
    fc.record({
      kind: fc.constant("map" as const),
      entries: fc.array(fc.tuple(keyArb, tie("tree")), { maxLength: 4 }),
      style: fc.nat(15),
    }),
    fc.record({
      kind: fc.constant("seq" as const),
      items: fc.array(tie("tree"), { maxLength: 4 }),
      style: fc.nat(15),
    }),
  ),
}));

/** Renders a tree as block YAML, with the layout choices each node carries. */
function render(t: Tree, indent: number): string[] {
  const pad = " ".repeat(indent);
  if (t.kind === "scalar") return [`${pad}${t.text}`];
  const step = 1 + (t.style % 3);
  if (t.kind === "seq") {
    if (t.items.length === 0) return [`${pad}[]`];
    if (t.style & 8 && t.items.every((i) => i.kind === "scalar"))
      return [`${pad}[${t.items.map((i) => (i as { text: string }).text).join(", ")}]`];
    const out: string[] = [];
    for (const item of t.items) {
      const inner = render(item, indent + step + 1);
      if (item.kind === "scalar" || item.kind === "map") {
        const first = inner[0] as string;
        out.push(`${pad}-${" ".repeat(step)}${first.slice(indent + step + 1)}`, ...inner.slice(1));
      } else {
        out.push(`${pad}-${t.style & 4 ? " # c" : ""}`, ...inner);
      }
    }
    return out;
  }
  if (t.entries.length === 0) return [`${pad}{}`];
  const out: string[] = [];
  for (const [key, value] of t.entries) {
    if (value.kind === "scalar") {
      out.push(`${pad}${key}: ${value.text}${t.style & 4 ? "  # note" : ""}`);
    } else {
      const sameIndent = value.kind === "seq" && t.style & 8;
      out.push(`${pad}${key}:`, ...render(value, sameIndent ? indent : indent + step));
    }
    if (t.style & 2) out.push(t.style & 1 ? "" : `${pad}  # comment`);
  }
  return out;
}

const edit = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("insert", "delete", "dup-line", "indent"),
  char: fc.constantFrom(..." :-#'\"\t\n[]{}&*!|>~,?"),
});

const documentArb = fc
  .tuple(
    tree,
    fc.oneof(fc.constant([]), fc.array(edit, { maxLength: 2 })),
    fc.boolean(),
    fc.constantFrom("", "\n", "\n\n", "  \n"),
  )
  .map(([t, edits, crlf, tail]) => {
    let text = render(t, 0).join("\n") + tail;
    for (const e of edits) {
      const at = text.length === 0 ? 0 : e.at % text.length;
      if (e.op === "insert") text = text.slice(0, at) + e.char + text.slice(at);
      else if (e.op === "delete") text = text.slice(0, at) + text.slice(at + 1);
      else {
        const start = text.lastIndexOf("\n", at) + 1;
        const end = text.indexOf("\n", at) === -1 ? text.length : text.indexOf("\n", at);
        const line = text.slice(start, end);
        const added = e.op === "indent" ? ` ${line}` : `${line}\n${line}`;
        text = text.slice(0, start) + added + text.slice(end);
      }
    }
    return crlf ? text.replaceAll("\n", "\r\n") : text;
  });

/** A policy file in the usual layout, with arbitrary scalars in its values. */
const policyFileArb = fc
  .array(
    fc.record({
      id: scalarArb,
      zone: fc.option(scalarArb),
      rules: fc.array(fc.dictionary(keyArb, scalarArb, { maxKeys: 3 }), {
        maxLength: 3,
      }),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((policies) => {
    const lines = ["policies:"];
    for (const p of policies) {
      lines.push(`  - id: ${p.id}`);
      if (p.zone !== null) lines.push(`    timezone: ${p.zone}`);
      lines.push("    rules:");
      for (const r of p.rules) {
        const entries = Object.entries(r);
        if (entries.length === 0) lines.push("      - {}");
        entries.forEach(([k, v], i) => {
          lines.push(`      ${i === 0 ? "-" : " "} ${k}: ${v}`);
        });
      }
    }
    return `${lines.join("\n")}\n`;
  });

describe("the fast reader of plain policy files", () => {
  // yaml warns (process warnings) about mapping keys that are collections: not the point.
  beforeAll(() => {
    vi.spyOn(process, "emitWarning").mockImplementation(() => {});
  });

  it("reads generated documents exactly as the yaml package does, or leaves them to it", () => {
    fastCount = 0;
    acceptedCount = 0;
    fc.assert(fc.property(documentArb, check), { numRuns: 3000 });
    console.info(`[fast-yaml] ${fastCount} of 3000 read fast, ${acceptedCount} valid`);
    // Most generated documents must take the fast path, or the check above proves little.
    expect(fastCount).toBeGreaterThan(600);
  });

  it("reads generated policy files exactly as the yaml package does", () => {
    fastCount = 0;
    fc.assert(fc.property(policyFileArb, check), { numRuns: 2000 });
    console.info(`[fast-yaml] ${fastCount} of 2000 policy files read fast`);
    expect(fastCount).toBeGreaterThan(250);
  });

  it.each([
    ["yes/no/on/off stay strings", "a: yes\nb: no\nc: on\nd: off\ne: y\n"],
    ["numbers in every YAML 1.2 form", "a: [0o17, 0x1F, -0, +12, 1e3, .5, -.inf, .nan, 007]\n"],
    ["null forms", "a: ~\nb: null\nc:\nd: NULL\n"],
    ["timestamps stay strings", "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\n"],
    ["a list under a key at the same indent", "a:\n- 1\n- b: 2\n  c: [x, 'y', \"z\"]\nd: e\n"],
    ["quoted keys and escapes", "\"a b\": 'it''s'\n'c': \"\\u00e9\\n\\\\\"\n"],
    ["comments everywhere", "# top\na: 1 # one\n  # indented\nb:   # empty\n\n  - x\n"],
    ["CRLF line ends", "a: 1\r\nb:\r\n  - c\r\n"],
  ])("reads %s fast and as yaml does", (_name, text) => {
    expect(readFastYaml(text)).toBeDefined();
    check(text);
  });

  it.each([
    ["anchors, aliases and merge keys", "d: &d {x: 1}\na:\n  <<: *d\n  y: 2\n"],
    ["block scalars", "a: |\n  two\n  lines\n"],
    ["multi-line plain scalars", "a: one\n  two\n"],
    ["tags", "a: !!str 1\n"],
    ["duplicate keys", "a: 1\na: 2\n"],
    ["tabs", "a:\t1\n"],
    ["flow mappings", "a: {b: 1}\n"],
    ["document markers", "---\na: 1\n"],
    ["numeric keys", "1: a\n"],
  ])("leaves %s to the yaml package", (_name, text) => {
    expect(readFastYaml(text)).toBeUndefined();
    check(text);
  });

  it("places problems in a fast-read file at the same line and column as before", () => {
    const text = "policies:\n  - id: a\n    rules:\n      - operation: delete\n        bogus: 1\n";
    expect(readFastYaml(text)).toBeDefined();
    const placed = (t: string) => {
      try {
        parsePolicies(t, { source: "p.yaml" });
      } catch (err) {
        return (err as PolicyFileError).issues.map((i) => `${i.line}:${i.column} ${i.path}`);
      }
      return [];
    };
    // A merge key sends the same file down the full parser: the places must agree.
    const slow = `x: &x {}\n${text.replace("      - operation", "      - <<: *x\n        operation")}`;
    expect(readFastYaml(slow)).toBeUndefined();
    expect(placed(text)).toEqual(["5:9 policies[0].rules[0].bogus"]);
    expect(placed(slow)).toEqual(["7:9 policies[0].rules[0].bogus"]);
  });
});
