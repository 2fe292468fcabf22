/**
 * `POST /audit-logs/replay`: the CLI's policy replay over HTTP, on the server's own log.
 */
import { describe, expect, it } from "vitest";
import { DecisionLogger, SqliteApiKeyStore, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
import { ManualClock } from "../../src/testing/index.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";

const TOKEN = "replay-test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const tempDb = tempDbs("hexarch-replay-route");
const closers = closeAfterEach();

const POLICIES = `
policies:
  - id: api
    rules:
      - requests_per_minute: 3
        per: userId
        action: block
`;
const STRICTER = POLICIES.replace("requests_per_minute: 3", "requests_per_minute: 1");

async function server() {
  const path = tempDb();
  const clock = new ManualClock("2026-12-01T10:00:00Z");
  const logger = new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false });
  const keys = new SqliteApiKeyStore(path);
  const app = await createServer({
    guardian: new Guardian({ env: {}, policies: POLICIES, clock: clock.now, onWarn: () => {} }),
    auditLogger: logger,
    apiKeys: keys,
    apiToken: TOKEN,
    logger: false,
  });
  closers.push(async () => {
    await app.close();
    await logger.close();
    await keys.close();
  });
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({
      method: "POST",
      url: "/authorize",
      headers: AUTH,
      payload: { policyId: "api", context: { userId: "u1" } },
    });
    expect(res.json()).toMatchObject({ allowed: true });
    clock.advance(1000);
  }
  return { app, keys };
}

describe("POST /audit-logs/replay", () => {
  it("reports the decisions a proposed file would flip, as the CLI does", async () => {
    const { app } = await server();
    const res = await app.inject({
      method: "POST",
      url: "/audit-logs/replay",
      headers: AUTH,
      payload: { policy_file: STRICTER, since: "2026-12-01", until: "2026-12-02", examples: 1 },
    });
    expect(res.statusCode).toBe(200);
    // One a minute: the second and third of u1's three calls would be blocked.
    expect(res.json()).toMatchObject({
      replayed: 3,
      toBlocked: 2,
      toAllowed: 0,
      policies: [{ policyId: "api", unchanged: 1, toBlocked: 2, examples: [{ userId: "u1" }] }],
    });
    expect(res.json().policies[0].examples).toHaveLength(1);
  });

  it("answers 422 for an invalid file, 400 for a bad date, and needs the admin scope", async () => {
    const { app, keys } = await server();
    const post = (payload: object, headers: Record<string, string> = AUTH) =>
      app.inject({ method: "POST", url: "/audit-logs/replay", headers, payload });
    const invalid = await post({
      policy_file: "policies:\n  - id: x\n    rules: [{ action: maybe }]\n",
    });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json()).toMatchObject({ code: "invalid_policy_file" });
    expect((await post({ policy_file: STRICTER, since: "soon" })).statusCode).toBe(400);
    expect((await post({})).statusCode).toBe(400);
    const reader = await keys.create({ name: "reader", scopes: ["read"] });
    const refused = await post(
      { policy_file: STRICTER },
      { authorization: `Bearer ${reader.key}` },
    );
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ requiredScope: "admin" });
    expect((await post({ policy_file: STRICTER }, {})).statusCode).toBe(401);
  });
});
