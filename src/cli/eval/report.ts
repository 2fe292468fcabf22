/**
 * The report of an eval run: rule-key coverage from the policy file, `results.json` and a
 * `report.md` for people, in a folder named by the run's UTC time.
 *
 * @module
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readYamlSource } from "../../policy/yaml-source.ts";
import type { CaseResult, EvalReport, KeyCoverage } from "./types.ts";

/** `20261208T021540Z`, as the Python harness names its folders. */
export function utcStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** Creates `DIR/<stamp>` (with `-2`, `-3`… when a run of the same second has it). */
export function makeRunDir(outDir: string, stamp: string): string {
  mkdirSync(outDir, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(outDir, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/** `warn_at_80%` → `warn_at_N%`, as the policy language's table names it. */
const actionKey = (action: string): string =>
  `action: ${action.replace(/^(warn|block)_at_[\d.]+%$/, "$1_at_N%")}`;

/**
 * The rule keys each policy of a policy file's text writes (as written: `requests_per_minute`,
 * `when`…), plus `action: X` for each action.
 */
export function ruleKeysByPolicy(text: string, source: string): Map<string, Set<string>> {
  const { data } = readYamlSource(text, source, "a 'policies:' list");
  const out = new Map<string, Set<string>>();
  const policies = (data as { policies?: unknown } | null)?.policies;
  if (!Array.isArray(policies)) return out;
  for (const p of policies) {
    if (p === null || typeof p !== "object") continue;
    const { id, rules } = p as { id?: unknown; rules?: unknown };
    if (typeof id !== "string" || !Array.isArray(rules)) continue;
    const keys = new Set<string>();
    for (const rule of rules) {
      if (rule === null || typeof rule !== "object") continue;
      for (const [k, v] of Object.entries(rule)) {
        if (k === "action" && typeof v === "string") keys.add(actionKey(v));
        else if (k !== "action") keys.add(k);
      }
    }
    out.set(id, keys);
  }
  return out;
}

/**
 * Per rule key, the passing cases whose decided policies write it, by outcome: `allow`,
 * `warn`, `deny` (block or require_confirmation). Keys no case reached are listed empty.
 */
export function coverageOf(
  results: readonly CaseResult[],
  keys: ReadonlyMap<string, ReadonlySet<string>>,
): KeyCoverage[] {
  const table = new Map<string, { allow: string[]; warn: string[]; deny: string[] }>();
  for (const set of keys.values())
    for (const k of set) table.set(k, table.get(k) ?? { allow: [], warn: [], deny: [] });
  for (const r of results) {
    if (r.status !== "pass") continue;
    const written = new Set(r.policyIds.flatMap((id) => [...(keys.get(id) ?? [])]));
    for (const k of written) {
      const row = table.get(k);
      if (!row) continue;
      for (const o of new Set(r.outcomes)) row[o].push(r.id);
    }
  }
  return [...table.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, row]) => ({ key, ...row }));
}

/** A JSON value in one line, for tables. */
const inline = (v: unknown): string => (v === undefined ? "(missing)" : JSON.stringify(v));
/** A Markdown table cell. */
const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The report in Markdown. */
export function reportMarkdown(report: EvalReport): string {
  const { meta, summary, results, coverage } = report;
  const lines: string[] = [];
  lines.push(`# Eval report: ${meta.casesName}`, "");
  lines.push(`- Run at (UTC): ${meta.timestampUtc}`);
  lines.push(`- Cases file: ${meta.cases} (${meta.format === "steps" ? "steps" : "policy tests"})`);
  lines.push(`- Mode: ${meta.mode}${meta.baseUrl ? `, server ${meta.baseUrl}` : ""}`);
  lines.push(`- Policy file: ${meta.policyFile ?? "(none)"}`);
  lines.push(`- hexarch-guardrails ${meta.version}`);
  if (meta.interrupted)
    lines.push(`- Interrupted by ${meta.interrupted}: only the cases run before it are listed`);
  const verdict = summary.failed === 0 ? "**PASS**" : "**FAIL**";
  lines.push(
    `- Result: ${verdict}: ${summary.total} cases, ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`,
    "",
  );
  lines.push("## Cases", "", "| result | case | type | ms | note |", "|---|---|---|---|---|");
  for (const r of results) {
    lines.push(
      `| ${r.status.toUpperCase()} | ${cell(r.id)} | ${r.type} | ${r.durationMs} | ${cell(r.message)} |`,
    );
  }
  lines.push("");
  const failed = results.filter((r) => r.status === "fail");
  if (failed.length > 0) {
    lines.push("## Failures", "");
    for (const r of failed) {
      lines.push(`### ${r.id}`, "", r.message, "");
      if (r.diffs.length > 0) {
        lines.push("| field | expected | actual |", "|---|---|---|");
        for (const d of r.diffs)
          lines.push(
            `| ${cell(d.field)} | ${cell(inline(d.expected))} | ${cell(inline(d.actual))} |`,
          );
        lines.push("");
      }
      if (r.actual !== undefined)
        lines.push("Answer:", "", "```json", JSON.stringify(r.actual, null, 2), "```", "");
    }
  }
  lines.push("## Coverage of the policy language", "");
  if (!coverage) {
    lines.push(
      "Not computed: no policy file (`--policy-file`) says which rule keys the decided policies use.",
      "",
    );
  } else {
    lines.push(
      "Rule keys written by the policies the passing cases decided, and how many of those cases were allowed, warned or denied (blocked or needing confirmation).",
      "",
      "| key | allow | warn | deny | |",
      "|---|---|---|---|---|",
    );
    for (const c of coverage) {
      const done = c.allow.length > 0 && (c.deny.length > 0 || c.warn.length > 0);
      lines.push(
        `| \`${cell(c.key)}\` | ${c.allow.length} | ${c.warn.length} | ${c.deny.length} | ${done ? "covered" : "**incomplete**"} |`,
      );
    }
    const missing = coverage.filter(
      (c) => !(c.allow.length > 0 && (c.deny.length > 0 || c.warn.length > 0)),
    );
    lines.push(
      "",
      missing.length === 0
        ? `All ${coverage.length} keys have an allowed and a denied (or warned) case.`
        : `${missing.length} of ${coverage.length} keys lack an allowed or a denied case: ${missing.map((c) => `\`${c.key}\``).join(", ")}.`,
      "",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Writes `results.json` and `report.md` into the run's folder. */
/** What a confirmation token's value becomes in the report files. */
export const REDACTED = "<redacted>";

const TOKEN_KEYS = new Set(["confirmationToken", "confirmation_token"]);

/** Whether a field holds a confirmation token (a secret that lets a call through once). */
export const isTokenKey = (key: string): boolean => TOKEN_KEYS.has(key);

/**
 * A copy of `value` with every confirmation token's value replaced by `<redacted>`: a field
 * named `confirmationToken` or `confirmation_token`, and the expected and actual values of
 * a difference in such a field.
 */
export function redactTokens(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactTokens);
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  const tokenDiff = typeof obj.field === "string" && isTokenKey(obj.field);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const secret =
      (isTokenKey(k) || (tokenDiff && (k === "expected" || k === "actual"))) &&
      v !== undefined &&
      v !== null;
    Object.defineProperty(out, k, {
      value: secret ? REDACTED : redactTokens(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Writes `results.json` and `report.md`, confirmation tokens redacted in both. */
export function writeReport(dir: string, report: EvalReport): void {
  const safe = redactTokens(report) as EvalReport;
  writeFileSync(join(dir, "results.json"), `${JSON.stringify(safe, null, 2)}\n`);
  writeFileSync(join(dir, "report.md"), reportMarkdown(safe));
}
