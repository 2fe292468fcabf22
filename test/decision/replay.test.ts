/**
 * Policy replay over a real SQLite audit log, against a hand-computed case: what was
 * recorded under one file, re-decided under a stricter (and in one place looser) one.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DecisionLogger, replayAuditLog, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian, parsePolicies } from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";
import { ctl } from "../support/cli-fixtures.ts";

const RECORDED = `
policies:
  - id: api
    rules:
      - requests_per_minute: 3
        per: userId
        action: block
  - id: deletes
    rules:
      - operation: delete
        action: block
  - id: legacy
    rules: []
`;

// Two requests a minute per user instead of three; deletes no longer blocked; no legacy.
const PROPOSED = `
policies:
  - id: api
    rules:
      - id: two_a_minute
        requests_per_minute: 2
        per: userId
        action: block
  - id: deletes
    rules: []
`;

const dir = mkdtempSync(join(tmpdir(), "hexarch-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Records the traffic the expectations below are computed from; returns the log's path. */
async function recordTraffic(): Promise<string> {
  const db = join(dir, `log-${Math.random().toString(36).slice(2)}.db`);
  const store = new SqliteAuditStore(db);
  const logger = new DecisionLogger(store);
  const clock = new ManualClock("2026-12-01T10:00:00Z");
  const guardian = new Guardian({
    policies: parsePolicies(RECORDED),
    auditLogger: logger,
    clock: clock.now,
    env: {},
  });
  // u1: four calls in one minute (allowed, allowed, allowed, blocked); u2: two (allowed).
  for (const user of ["u1", "u1", "u2", "u1", "u2", "u1"]) {
    await guardian.decide("api", { userId: user });
    clock.advance(5_000);
  }
  // A minute later u1's window is fresh again: allowed then and under the proposed file.
  clock.advance(60_000);
  await guardian.decide("api", { userId: "u1" });
  await guardian.decide("deletes", { operation: "delete" }); // blocked, allowed when replayed
  await guardian.decide("legacy", {}); // not in the proposed file
  await logger.recordProviderCall({
    resource: "openai",
    details: { tokens: 12 },
    atMs: clock.now(),
  });
  await logger.close();
  return db;
}

describe("replayAuditLog", () => {
  it("flips exactly the hand-computed decisions, per policy and rule, with examples", async () => {
    const db = await recordTraffic();
    const store = new SqliteAuditStore(db);
    const report = await replayAuditLog(store, parsePolicies(PROPOSED), {
      since: "2026-12-01T00:00:00Z",
    });
    await store.close();
    // api: u1's third call (10:00:15) was the third of three allowed; two a minute blocks it.
    // u1's fourth call was blocked before and stays blocked; u2's two stay allowed; u1's
    // call a minute later is allowed both times.
    expect(report).toMatchObject({
      replayed: 8,
      skipped: { notDecisions: 1, unknownPolicy: 1 },
      toBlocked: 1,
      toAllowed: 1,
      warnChanged: 0,
    });
    const api = report.policies.find((p) => p.policyId === "api");
    expect(api).toMatchObject({ replayed: 7, unchanged: 6, toBlocked: 1, toAllowed: 0 });
    expect(api?.byRule).toEqual({ "api/two_a_minute": 1 });
    expect(api?.examples).toEqual([
      expect.objectContaining({
        userId: "u1",
        timestamp: "2026-12-01T10:00:15.000Z",
        before: "allowed",
        after: "blocked",
        ruleId: "api/two_a_minute",
      }),
    ]);
    const deletes = report.policies.find((p) => p.policyId === "deletes");
    expect(deletes).toMatchObject({ replayed: 1, toAllowed: 1, toBlocked: 0 });
    expect(deletes?.byRule).toEqual({ "(none)": 1 });
  });

  it("replays only the period asked, and refuses a date that is not one", async () => {
    const db = await recordTraffic();
    const store = new SqliteAuditStore(db);
    // From 10:00:20 on: u1's fourth call is the first in its replayed window, so it flips
    // to allowed; nothing flips to blocked.
    const report = await replayAuditLog(store, parsePolicies(PROPOSED), {
      since: "2026-12-01T10:00:20Z",
    });
    expect(report).toMatchObject({ toBlocked: 0 });
    expect(report.policies.find((p) => p.policyId === "api")).toMatchObject({
      replayed: 3,
      toAllowed: 1,
    });
    await expect(
      replayAuditLog(store, parsePolicies(PROPOSED), { since: "soon" }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
    await store.close();
  });
});

describe("hexarch-ctl policy replay", () => {
  it("prints the flips, answers JSON, and exits 1 with --fail-on-block when a call would be blocked", async () => {
    const db = await recordTraffic();
    const proposed = join(dir, "proposed.yaml");
    writeFileSync(proposed, PROPOSED);
    const table = await ctl(["policy", "replay", proposed, "--db", db, "--since", "2026-12-01"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("replayed 8 decisions");
    expect(table.stdout).toContain("1 to blocked, 1 to allowed");
    expect(table.stdout).toMatch(/u1: allowed → blocked/);
    const json = await ctl([
      "policy",
      "replay",
      proposed,
      "--db",
      db,
      "--since",
      "2026-12-01",
      "--format",
      "json",
      "--fail-on-block",
    ]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ replayed: 8, toBlocked: 1, toAllowed: 1 });
    const missing = await ctl(["policy", "replay", proposed, "--db", join(dir, "none.db")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no audit log at");
  });
});
