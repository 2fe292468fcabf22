/**
 * A hand-computed day of spend (2026-12-02, UTC) in a real SQLite audit log, for the
 * budget forecast's tests (library and CLI).
 */
import { join } from "node:path";
import { expect } from "vitest";
import { DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian, parsePolicies } from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

/** $10 a day per user on `chat`; $10 and 200 tokens a day shared on `openai`. */
export const BUDGETS = `
policies:
  - id: spend
    rules:
      - name: per_user
        resource: chat
        daily_budget: 10
        per: userId
        timezone: UTC
        action: block
  - id: team
    rules:
      - name: shared
        resource: openai
        daily_budget: 10
        max_tokens_per_day: 200
        timezone: UTC
        action: block
  - id: plain
    rules:
      - requests_per_minute: 100
`;

/** Into a new SQLite log in `dir`: the day's traffic (2026-12-02, UTC), and one call the day before; returns the log's path. */
export async function recordSpend(dir: string): Promise<string> {
  const db = join(dir, `log-${Math.random().toString(36).slice(2)}.db`);
  const store = new SqliteAuditStore(db);
  const logger = new DecisionLogger(store);
  const clock = new ManualClock("2026-12-01T12:00:00Z");
  const guardian = new Guardian({
    policies: parsePolicies(BUDGETS),
    auditLogger: logger,
    clock: clock.now,
    env: {},
  });
  const at = (iso: string) => clock.set(Date.parse(iso));
  const chat = (userId: string, cost: number) =>
    guardian.decide("spend", { resource: "chat", userId, cost });
  await chat("u1", 5); // yesterday: another period
  at("2026-12-02T01:00:00Z");
  await chat("u1", 2);
  at("2026-12-02T02:00:00Z");
  await chat("u1", 1);
  at("2026-12-02T03:00:00Z");
  await chat("u2", 9);
  at("2026-12-02T03:30:00Z");
  expect((await chat("u2", 2)).allowed).toBe(false); // 9 + 2 > 10: refused, counts nothing
  at("2026-12-02T04:00:00Z");
  // Reported by a key bound to u3 (both spellings carry the bound value): counts for u3.
  await logger.recordProviderCall({
    resource: "chat",
    details: { cost_usd: 0.5 },
    metadata: { userId: "u3", user_id: "u3" },
    atMs: clock.now(),
  });
  // A claim of an unbound caller: the server counted it against no user (the empty `per`).
  await logger.recordProviderCall({
    resource: "chat",
    details: { cost_usd: 1 },
    metadata: { userId: "u9" },
    atMs: clock.now(),
  });
  await logger.recordProviderCall({
    resource: "openai",
    operation: "chat.completions",
    details: { cost_usd: 1.5, tokens_in: 100, tokens_out: 50, model: "gpt-4o" },
    atMs: clock.now(),
  });
  at("2026-12-02T05:00:00Z");
  await guardian.decide("team", { resource: "openai", cost: 0.5, tokens: 50 });
  await guardian.decide("plain", {});
  await logger.close();
  return db;
}
