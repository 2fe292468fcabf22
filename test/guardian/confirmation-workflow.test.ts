/**
 * Confirmation workflows on top of the stores: the workflow (token and interactive
 * modes), signed tokens, the webhook gateway, and the audit trail of every step.
 */
import { createHmac, generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import {
  ConfirmationRequired,
  ConfirmationWorkflow,
  fingerprintCall,
  Guardian,
  GuardrailError,
  HttpConfirmationGateway,
  MemoryConfirmationStore,
  PolicyViolation,
  SignedConfirmationStore,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

const POLICIES = `policies:
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: frozen
    rules: [{ operation: delete, action: block }]
`;

const guardianWith = (extra: ConstructorParameters<typeof Guardian>[0] = {}) =>
  new Guardian({ policies: POLICIES, env: {}, ...extra });

/** A fake terminal: `answers` are typed in; `isTTY` as given. */
function terminal(isTTY: boolean, answers: string[] = []) {
  const input = Object.assign(new PassThrough(), { isTTY });
  const output = new PassThrough();
  let shown = "";
  output.on("data", (c: Buffer) => {
    shown += c.toString();
    if (!shown.endsWith("(yes/no) ")) return;
    const next = answers.shift();
    if (next !== undefined) setImmediate(() => input.write(`${next}\n`));
  });
  return { terminal: { input, output }, shown: () => shown };
}

describe("ConfirmationWorkflow", () => {
  const deleted: string[] = [];
  const deleteUser = async (id: string) => {
    deleted.push(id);
    return `deleted ${id}`;
  };
  afterEach(() => {
    deleted.length = 0;
  });

  it("token mode: answers pending_approval, then runs once with the approved token", async () => {
    const store = new MemoryConfirmationStore();
    const workflow = new ConfirmationWorkflow(guardianWith(), store);
    const call = {
      policyId: "safe_delete",
      fn: deleteUser,
      args: ["u1"] as [string],
      requestedBy: "alice",
    };
    const first = await workflow.executeWithConfirmation(call);
    expect(first).toMatchObject({
      status: "pending_approval",
      token: expect.stringMatching(/\./),
      reason: expect.stringContaining("requires confirmation"),
      binding: { policyId: "safe_delete", fingerprint: fingerprintCall("safe_delete", ["u1"]) },
    });
    expect(deleted).toEqual([]);
    if (first.status !== "pending_approval") return;
    expect(await store.get(first.token)).toMatchObject({
      status: "pending",
      requestedBy: "alice",
      operation: "deleteUser",
    });
    // Not approved yet: refused, saying so.
    await expect(workflow.executeWithConfirmation({ ...call, token: first.token })).rejects.toThrow(
      /not been approved yet/,
    );
    store.approve(first.token, { approvedBy: "lead" });
    // Approved for u1: not for u2.
    await expect(
      workflow.executeWithConfirmation({ ...call, args: ["u2"], token: first.token }),
    ).rejects.toThrow(/issued for a call with other arguments/);
    expect(await workflow.executeWithConfirmation({ ...call, token: first.token })).toEqual({
      status: "executed",
      result: "deleted u1",
    });
    await expect(workflow.executeWithConfirmation({ ...call, token: first.token })).rejects.toThrow(
      /already used/,
    );
    expect(deleted).toEqual(["u1"]);
  });

  it("runs calls that need no confirmation, and rethrows blocks", async () => {
    const workflow = new ConfirmationWorkflow(guardianWith(), new MemoryConfirmationStore());
    expect(
      await workflow.executeWithConfirmation({
        policyId: "safe_delete",
        fn: async () => 7,
        context: { operation: "read" },
      }),
    ).toEqual({ status: "executed", result: 7 });
    await expect(
      workflow.executeWithConfirmation({ policyId: "frozen", fn: deleteUser, args: ["u1"] }),
    ).rejects.toBeInstanceOf(PolicyViolation);
  });

  it("interactive mode asks Approve? (yes/no) and runs on yes", async () => {
    const store = new MemoryConfirmationStore();
    const t = terminal(true, ["maybe", "yes"]);
    const workflow = new ConfirmationWorkflow(guardianWith(), store, { terminal: t.terminal });
    const r = await workflow.executeWithConfirmation({
      policyId: "safe_delete",
      fn: deleteUser,
      args: ["u3"],
      interactive: true,
      requestedBy: "dev",
    });
    expect(r).toEqual({ status: "executed", result: "deleted u3" });
    expect(t.shown()).toContain("Policy 'safe_delete' requires confirmation");
    expect(t.shown()).toContain("Please answer yes or no.");
    expect(t.shown().match(/Approve\? \(yes\/no\) /g)).toHaveLength(2);
  });

  it("interactive mode refuses on no, and at once without a TTY", async () => {
    const no = terminal(true, ["no"]);
    const w1 = new ConfirmationWorkflow(guardianWith(), new MemoryConfirmationStore(), {
      terminal: no.terminal,
    });
    const call = {
      policyId: "safe_delete",
      fn: deleteUser,
      args: ["u4"] as [string],
      interactive: true,
    };
    await expect(w1.executeWithConfirmation(call)).rejects.toThrow(/denied at the terminal/);
    const headless = terminal(false);
    const w2 = new ConfirmationWorkflow(guardianWith(), new MemoryConfirmationStore(), {
      terminal: headless.terminal,
    });
    const err = await w2.executeWithConfirmation(call).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfirmationRequired);
    expect((err as Error).message).toMatch(/needs a terminal \(stdin is not a TTY\)/);
    expect(headless.shown()).toBe("");
    expect(deleted).toEqual([]);
  });
});

describe("SignedConfirmationStore", () => {
  const secret = "a-32-byte-secret-for-hmac-sha256!";
  const binding = (args: unknown[] = ["u1"]) => ({
    policyId: "safe_delete",
    fingerprint: fingerprintCall("safe_delete", args),
  });

  it("approves with a new signed token that works once, for this call only", async () => {
    const clock = new ManualClock("2026-11-25T12:00:00Z");
    const store = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }], clock: clock.now });
    const pending = await store.create({ ...binding(), requestedBy: "alice", ttlMs: 60_000 });
    expect(await store.consume(pending, binding())).toMatchObject({ refusal: "pending" });
    const approved = await store.approve(pending, { approvedBy: "bob", reason: "ok" });
    expect(approved).toMatchObject({ status: "approved", decidedBy: "bob", requestedBy: "alice" });
    expect(await store.consume(approved.token, binding(["u2"]))).toMatchObject({
      refusal: "wrong_arguments",
    });
    expect(await store.consume(approved.token, { ...binding(), policyId: "x" })).toMatchObject({
      refusal: "wrong_policy",
    });
    expect(await store.consume(approved.token, binding())).toMatchObject({ ok: true });
    expect(await store.consume(approved.token, binding())).toMatchObject({ refusal: "used" });
    const late = await store.issue({ ...binding(), approvedBy: "bob", ttlMs: 1000 });
    clock.advance(1000 + 30_000); // past expiry and the 30 s tolerance
    expect(await store.consume(late, binding())).toMatchObject({ refusal: "expired" });
  });

  it("refuses forged, tampered, re-signed and unknown-key tokens as unknown", async () => {
    const store = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }] });
    const token = await store.issue({ ...binding(), approvedBy: "bob" });
    const [h, p, s] = token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...payload, fp: binding(["u2"]).fingerprint }),
    ).toString("base64url");
    const other = new SignedConfirmationStore({
      keys: [{ kid: "k1", secret: `${secret}-but-another-one` }],
    });
    const otherKid = new SignedConfirmationStore({ keys: [{ kid: "k9", secret }] });
    for (const bad of [
      `${h}.${forgedPayload}.${s}`,
      `${h}.${p}.${s.slice(0, -2)}AA`,
      await other.issue({ ...binding(), approvedBy: "mallory" }),
      await otherKid.issue({ ...binding(), approvedBy: "mallory" }),
      `${h}.${p}.`,
      "not.a.jwt",
      "",
    ]) {
      expect(await store.consume(bad, binding()), bad).toMatchObject({
        ok: false,
        refusal: "unknown",
      });
    }
    await expect(store.approve("nope", { approvedBy: "x" })).rejects.toThrow(GuardrailError);
  });

  it("rotates keys by kid, verifies with a public key only, and tolerates small clock skew", async () => {
    const old = new SignedConfirmationStore({ keys: [{ kid: "2026-10", secret }] });
    const issuedOld = await old.issue({ ...binding(), approvedBy: "bob" });
    const rotated = new SignedConfirmationStore({
      keys: [
        { kid: "2026-11", secret: "a-brand-new-32-byte-secret-value!!" },
        { kid: "2026-10", secret },
      ],
    });
    expect(await rotated.consume(issuedOld, binding())).toMatchObject({ ok: true });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const signer = new SignedConfirmationStore({
      keys: [{ kid: "ed", alg: "EdDSA", privateKey, publicKey }],
    });
    const verifier = new SignedConfirmationStore({
      keys: [{ kid: "ed", alg: "EdDSA", publicKey }],
    });
    await expect(verifier.create(binding())).rejects.toThrow(/only verifies/);
    expect(
      await verifier.consume(await signer.issue({ ...binding(), approvedBy: "svc" }), binding()),
    ).toMatchObject({
      ok: true,
    });
    // An approval service whose clock runs 10 s ahead is fine; 10 minutes ahead is not.
    const now = Date.parse("2026-11-25T12:00:00Z");
    const ahead = (ms: number) =>
      new SignedConfirmationStore({ keys: [{ kid: "k", secret }], clock: () => now + ms });
    const local = new SignedConfirmationStore({ keys: [{ kid: "k", secret }], clock: () => now });
    expect(
      await local.consume(await ahead(10_000).issue({ ...binding(), approvedBy: "b" }), binding()),
    ).toMatchObject({ ok: true });
    expect(
      await local.consume(await ahead(600_000).issue({ ...binding(), approvedBy: "b" }), binding()),
    ).toMatchObject({
      refusal: "unknown",
    });
  });

  it("refuses short HMAC secrets", () => {
    expect(() => new SignedConfirmationStore({ keys: [{ kid: "k", secret: "short" }] })).toThrow(
      /at least 32/,
    );
  });
});

/**
 * A local approval service: records requests, answers with the given statuses in turn (or,
 * with `answers: false`, never answers until closed).
 */
async function approvalService(statuses: number[] = [200], answers = true) {
  const requests: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      requests.push({ headers: req.headers, body });
      if (answers) res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/approve`;
  const close = () => {
    server.closeAllConnections(); // a request left unanswered
    return new Promise((done) => server.close(done));
  };
  return { url, requests, close };
}

describe("HttpConfirmationGateway", () => {
  const secret = "webhook-secret-of-at-least-32-bytes";
  const binding = { policyId: "safe_delete", fingerprint: fingerprintCall("safe_delete", ["u1"]) };

  it("POSTs a signed pending approval, retrying 5xx, and applies the signed callback", async () => {
    const service = await approvalService([503, 200]);
    const store = new MemoryConfirmationStore();
    const gateway = new HttpConfirmationGateway({
      webhookUrl: service.url,
      secret,
      store,
      headers: { authorization: "Bearer svc" },
      retryDelayMs: 1,
    });
    try {
      const token = await gateway.notifyPendingApproval({
        reason: "delete user u1",
        operation: "deleteUser",
        binding,
      });
      expect(service.requests).toHaveLength(2);
      const req = service.requests[1];
      expect(req?.headers.authorization).toBe("Bearer svc");
      const sent = JSON.parse(req?.body ?? "{}");
      expect(sent).toMatchObject({
        event: "confirmation.pending",
        token,
        reason: "delete user u1",
        policyId: "safe_delete",
      });
      // The service checks our signature: HMAC-SHA256 over "<timestamp>.<body>".
      const ts = String(req?.headers["x-hexarch-timestamp"]);
      expect(req?.headers["x-hexarch-signature"]).toBe(
        `v1=${createHmac("sha256", secret).update(`${ts}.${req?.body}`).digest("hex")}`,
      );
      const body = JSON.stringify({ token, approved: true, decidedBy: "lead", reason: "ticket 7" });
      const record = await gateway.applyCallback({ headers: gateway.signedHeaders(body), body });
      expect(record).toMatchObject({
        status: "approved",
        decidedBy: "lead",
        decisionReason: "ticket 7",
      });
      expect(store.consume(token, binding)).toMatchObject({ ok: true });
    } finally {
      await service.close();
    }
  });

  it("gives up after the bounded retries and on a 4xx, with a clear error", async () => {
    const down = await approvalService([500, 500, 500, 500]);
    const refused = await approvalService([403]);
    const silent = await approvalService([200], false);
    try {
      const g = (url: string, extra = {}) =>
        new HttpConfirmationGateway({
          webhookUrl: url,
          secret,
          retries: 2,
          retryDelayMs: 1,
          ...extra,
        });
      await expect(g(down.url).notifyPendingApproval({ reason: "x" })).rejects.toThrow(
        /answered 500/,
      );
      expect(down.requests).toHaveLength(3);
      await expect(g(refused.url).notifyPendingApproval({ reason: "x" })).rejects.toThrow(
        /answered 403/,
      );
      expect(refused.requests).toHaveLength(1);
      await expect(
        g(silent.url, { timeoutMs: 50, retries: 0 }).notifyPendingApproval({ reason: "x" }),
      ).rejects.toThrow(/did not answer within 50 ms/);
      await expect(
        g("http://127.0.0.1:1/x", { retries: 0 }).notifyPendingApproval({ reason: "x" }),
      ).rejects.toThrow(/approval webhook/);
    } finally {
      await Promise.all([down.close(), refused.close(), silent.close()]);
    }
  });

  it("refuses forged, tampered, stale and future callbacks", () => {
    let now = Date.parse("2026-11-25T12:00:00Z");
    const gateway = new HttpConfirmationGateway({
      webhookUrl: "https://approvals.example.com",
      secret,
      clock: () => now,
    });
    const body = JSON.stringify({ token: "t", approved: true, decidedBy: "lead" });
    const headers = gateway.signedHeaders(body);
    expect(gateway.verifyCallback({ headers, body })).toEqual({
      token: "t",
      approved: true,
      decidedBy: "lead",
    });
    expect(
      gateway.verifyCallback({ headers: new Headers(headers), body: Buffer.from(body) }).approved,
    ).toBe(true);
    const forger = new HttpConfirmationGateway({
      webhookUrl: "https://x.example.com",
      secret: `${secret}-other`,
      clock: () => now,
    });
    expect(() => gateway.verifyCallback({ headers: forger.signedHeaders(body), body })).toThrow(
      /signature does not match/,
    );
    expect(() => gateway.verifyCallback({ headers, body: body.replace("true", "false") })).toThrow(
      /signature does not match/,
    );
    expect(() => gateway.verifyCallback({ headers: {}, body })).toThrow(/missing/);
    now += 301_000;
    expect(() => gateway.verifyCallback({ headers, body })).toThrow(/301 s from now/);
    now -= 2 * 301_000;
    expect(() => gateway.verifyCallback({ headers, body })).toThrow(/from now/);
    now += 301_000;
    const bad = "{}";
    expect(() =>
      gateway.verifyCallback({ headers: gateway.signedHeaders(bad), body: bad }),
    ).toThrow(/expected \{ token/);
  });

  it("refuses weak secrets and non-HTTP URLs", () => {
    expect(
      () => new HttpConfirmationGateway({ webhookUrl: "https://a.example", secret: "short" }),
    ).toThrow(/32 bytes/);
    expect(() => new HttpConfirmationGateway({ webhookUrl: "ftp://a.example", secret })).toThrow(
      /http\(s\)/,
    );
  });
});

describe("Guardian.close()", () => {
  it("closes the confirmation store it was given", async () => {
    let closed = 0;
    const inner = new MemoryConfirmationStore();
    const confirmations = Object.assign(inner, { close: () => void closed++ });
    const auditLogger = new DecisionLogger(new SqliteAuditStore(":memory:"), { exitHooks: false });
    await guardianWith({ confirmations, auditLogger }).close();
    await guardianWith({ confirmations }).close();
    expect(closed).toBe(2);
  });
});

describe("the audit trail of confirmations", () => {
  it("records each request, approval, denial, use and refusal, outside the decision stats", async () => {
    const auditLogger = new DecisionLogger(new SqliteAuditStore(":memory:"), { exitHooks: false });
    const guardian = guardianWith({ auditLogger, confirmations: new MemoryConfirmationStore() });
    const store = guardian.confirmations;
    if (!store) throw new Error("expected a store");
    const purge = guardian.check("safe_delete", { operation: "delete" })(async function purge(
      _id: string,
    ) {});
    const err = (await purge("u1").catch((e: unknown) => e)) as ConfirmationRequired;
    const b = err.binding;
    if (!b) throw new Error("expected a binding");
    const token = await store.create({
      ...b,
      requestedBy: "alice",
      reason: "cleanup",
      operation: "purge",
    });
    await store.approve(token, { approvedBy: "bob", reason: "ticket 9" });
    await guardian.withContext({ confirmationToken: token }, () => purge("u1"));
    await guardian.withContext({ confirmationToken: token }, () => purge("u1")).catch(() => {});
    const denied = await store.create({ ...b, requestedBy: "alice" });
    await store.deny(denied, { deniedBy: "carol" });
    const history = [...(await auditLogger.getDecisionHistory({ limit: 50 }))].reverse();
    expect(history.map((r) => [r.action, r.decision, r.userId])).toEqual([
      ["require_confirmation", "blocked", null],
      ["confirmation_create", "blocked", "alice"],
      ["confirmation_approve", "allowed", "bob"],
      ["confirmation_consume", "allowed", "alice"],
      ["allow", "allowed", null],
      ["require_confirmation", "blocked", null],
      ["confirmation_create", "blocked", "alice"],
      ["confirmation_deny", "blocked", "carol"],
    ]);
    expect(history[2]?.reason).toBe("Confirmation approved by bob: ticket 9");
    // The second use is refused before the store is asked to consume: the decision says why.
    expect(history[5]?.reason).toMatch(
      /confirmation token refused: the confirmation token was already used$/,
    );
    for (const r of history) expect(JSON.stringify(r)).not.toContain(token.split(".")[1]);
    expect(await auditLogger.getPolicyStats("safe_delete")).toMatchObject({
      totalDecisions: 3,
      allowed: 1,
      blocked: 2,
    });
    // A token refused by the store itself (a forged one) is a refusal event.
    const forged = `${token.split(".")[0]}.${"A".repeat(43)}`;
    await guardian.withContext({ confirmationToken: forged }, () => purge("u1")).catch(() => {});
    const last = (await auditLogger.getDecisionHistory({ limit: 1 }))[0];
    expect(last?.reason).toMatch(/confirmation token refused: the confirmation token is unknown$/);
    expect(await auditLogger.verify()).toMatchObject({ ok: true, checked: 9 });
    await guardian.close();
  });
});
