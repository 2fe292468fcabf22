/**
 * Fixtures of the CLI tests: a fixed audit log (same records for SQLite and PostgreSQL,
 * so both produce the same golden output) and a runner for the real binary.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { AuditRecord } from "../../src/audit/index.ts";

export const BIN = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));

/** What a run of the binary gave. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `hexarch-ctl` as a subprocess: no color, 80 columns, no store from the environment. */
export function ctl(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("HEXARCH_") && k !== "FORCE_COLOR") env[k] = v;
  }
  Object.assign(env, { NO_COLOR: "1", COLUMNS: "80" }, options.env);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** Compares with `test/golden/cli/<name>`; `UPDATE_GOLDEN=1` rewrites the file instead. */
export function expectGolden(name: string, actual: string): void {
  const file = fileURLToPath(new URL(`../golden/cli/${name}`, import.meta.url));
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI === "true" && !existsSync(file))
      throw new Error(
        `golden file ${name} is missing (run UPDATE_GOLDEN=1 npx vitest run test/cli.test.ts)`,
      );
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const T0 = Date.UTC(2026, 0, 15, 9, 30);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const id = (n: number) => `019bc0c4-6a00-7000-8000-${String(n).padStart(12, "0")}`;

/** Twelve decisions over three policies and four users. */
export function fixtureRecords(): AuditRecord[] {
  const base = {
    functionName: "askModel",
    action: "allow",
    context: { resource: "openai" },
    durationMs: 0.012,
    metadata: null,
    mode: "enforce" as const,
  };
  const rows: Omit<AuditRecord, "decisionId" | "timestamp">[] = [
    {
      ...base,
      policyId: "api_budget",
      decision: "allowed",
      reason: "Policy 'api_budget' allowed the call",
      userId: "alice",
    },
    {
      ...base,
      policyId: "api_budget",
      decision: "allowed",
      reason: "Policy 'api_budget' allowed the call",
      userId: "bob",
    },
    {
      ...base,
      policyId: "api_budget",
      decision: "warned",
      action: "warn",
      reason:
        "Policy 'api_budget' warning: 82% of the monthly budget used ($8.20 of $10.00) (rule rules[0])",
      userId: "alice",
      metadata: { team: "ml" },
    },
    {
      ...base,
      policyId: "rate_limit",
      decision: "allowed",
      reason: "Policy 'rate_limit' allowed the call",
      userId: "carol",
      functionName: "sendWebhook",
      context: { destination: "hooks.example.com" },
    },
    {
      ...base,
      policyId: "rate_limit",
      decision: "blocked",
      action: "block",
      reason:
        "Policy 'rate_limit' blocked the call: limit of 5 requests per second reached (rule rules[0])",
      userId: "carol",
      functionName: "sendWebhook",
      context: { destination: "hooks.example.com" },
    },
    {
      ...base,
      policyId: "safe_delete",
      decision: "blocked",
      action: "require_confirmation",
      reason:
        "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
      userId: "zoë",
      functionName: "purgeUsers",
      context: { operation: "delete" },
    },
    {
      ...base,
      policyId: "safe_delete",
      decision: "allowed",
      reason: "Policy 'safe_delete' allowed the call",
      userId: "zoë",
      functionName: "purgeUsers",
      context: { operation: "delete", confirm: true },
    },
    {
      ...base,
      policyId: "api_budget",
      decision: "blocked",
      action: "block",
      reason:
        "Policy 'api_budget' blocked the call: monthly budget of $10.00 would be exceeded (\"gpt-4\", $0.75 a call) (rule rules[0])",
      userId: "bob",
    },
    {
      ...base,
      policyId: "rate_limit",
      decision: "blocked",
      action: "block",
      reason:
        "Policy 'rate_limit' blocked the call: limit of 5 requests per second reached (rule rules[0])",
      userId: "carol",
      functionName: "sendWebhook",
      context: { destination: "hooks.example.com" },
    },
    {
      ...base,
      policyId: "rate_limit",
      decision: "blocked",
      action: "block",
      reason:
        "Policy 'rate_limit' blocked the call: limit of 5 requests per second reached (rule rules[0])",
      userId: "dave",
      functionName: null,
      context: {},
      mode: "monitor",
    },
    {
      ...base,
      policyId: "api_budget",
      decision: "allowed",
      reason: "Policy 'api_budget' allowed the call",
      userId: null,
      functionName: null,
    },
    {
      ...base,
      policyId: "safe_delete",
      decision: "allowed",
      reason: "Policy 'safe_delete' allowed the call",
      userId: "alice",
      functionName: "purgeUsers",
      context: { operation: "read" },
    },
  ];
  return rows.map((r, i) => ({ ...r, decisionId: id(i + 1), timestamp: at(i * 7) }) as AuditRecord);
}
