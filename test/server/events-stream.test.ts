/**
 * `GET /events/stream` on a listening server, read as the console reads it (fetch and a
 * stream reader): decisions and confirmation requests as they happen, heartbeats, and
 * the stream's end when the client leaves or the server closes.
 */
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { DecisionEntry } from "../../src/audit/index.ts";
import { DecisionLogger, SqliteApiKeyStore, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian, MemoryConfirmationStore } from "../../src/index.ts";
// Internal: withDecisionEvents, the wrapper createServer puts around its audit logger.
import { withDecisionEvents } from "../../src/server/event-hub.ts";
import {
  borrowedConfirmations,
  createServer,
  EventHub,
  type EventHubOptions,
} from "../../src/server/index.ts";
import { tempDbs } from "../support/cleanup.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const POLICIES = `
policies:
  - id: open
    rules: [{ resource: "*", action: allow }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
`;

interface Running {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly events: EventHub;
  readonly logger: DecisionLogger;
  readonly keys: SqliteApiKeyStore;
}

const tempDb = tempDbs("hexarch-events-stream");
const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.app.close();
    await r.logger.close();
    await r.keys.close();
  }
});

async function start(heartbeatMs = 60_000, hub: EventHubOptions = {}): Promise<Running> {
  const events = new EventHub({ heartbeatMs, ...hub });
  const keys = new SqliteApiKeyStore(tempDb());
  const logger = new DecisionLogger(new SqliteAuditStore(":memory:"), { exitHooks: false });
  const store = new MemoryConfirmationStore();
  const guardian = new Guardian({
    env: {},
    policies: POLICIES,
    onWarn: () => {},
    // As `serve api` does: the tokens /authorize uses are streamed too.
    confirmations: borrowedConfirmations(store, (e) => events.confirmation(e)),
  });
  const app = await createServer({
    guardian,
    auditLogger: logger,
    confirmations: store,
    apiToken: TOKEN,
    apiKeys: keys,
    logger: false,
    events,
  });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  const r = { app, url: address, events, logger, keys };
  running.push(r);
  return r;
}

/** An open stream: its events as they come (comments included), and a way to leave. */
async function open(url: string, headers: Record<string, string> = AUTH) {
  const controller = new AbortController();
  const res = await fetch(`${url}/events/stream`, { headers, signal: controller.signal });
  const blocks: string[] = [];
  let ended = false;
  let buffer = "";
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const reading = (async () => {
    if (!res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          blocks.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
        wake();
      }
    } catch {
      // aborted
    }
    ended = true;
    wake();
  })();
  /** The parsed `event:` blocks so far. */
  const events = () =>
    blocks
      .filter((b) => b.startsWith("event: "))
      .map((b) => {
        const [type, data] = b.split("\n") as [string, string];
        return { type: type.slice(7), data: JSON.parse(data.slice(6)) as Record<string, unknown> };
      });
  /** Waits until `ok()` holds (or fails after 5 s). */
  const until = async (ok: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!ok()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${blocks.join(" | ")}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return {
    res,
    blocks,
    events,
    until,
    ended: () => ended,
    leave: async () => {
      controller.abort();
      await reading;
    },
  };
}

describe("GET /events/stream", () => {
  it("streams each decision the server records, with only the listed fields", async () => {
    const s = await start();
    const stream = await open(s.url);
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(stream.res.headers.get("cache-control")).toBe("no-cache");
    expect(stream.res.headers.get("x-accel-buffering")).toBe("no");
    expect(stream.res.headers.get("x-request-id")).toBeTruthy();
    const res = await fetch(`${s.url}/authorize`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({
        policyId: "open",
        context: { userId: "alice", functionName: "send_email", password: "hunter2" },
      }),
    });
    const answer = (await res.json()) as { decisionId: string };
    await stream.until(() => stream.events().length > 0, "a decision event");
    const [event] = stream.events();
    expect(event?.type).toBe("decision");
    expect(event?.data).toEqual({
      decisionId: answer.decisionId,
      timestamp: expect.any(String),
      policyId: "open",
      decision: "allowed",
      action: "allow",
      reason: expect.any(String),
      userId: "alice",
      functionName: "send_email",
    });
    expect(stream.blocks.join("\n")).not.toContain("hunter2");
    await stream.leave();
  });

  it("streams a confirmation request created, approved and used, never its token", async () => {
    const s = await start();
    const stream = await open(s.url);
    const authorize = (token?: string) =>
      fetch(`${s.url}/authorize`, {
        method: "POST",
        headers: {
          ...AUTH,
          "content-type": "application/json",
          ...(token && { "x-confirmation-token": token }),
        },
        body: JSON.stringify({
          policyId: "safe_delete",
          context: { operation: "delete", userId: "u1" },
        }),
      });
    const asked = await authorize();
    const token = asked.headers.get("x-confirmation-token") as string;
    expect(token).toBeTruthy();
    const id = token.split(".")[0];
    const approved = await fetch(`${s.url}/approvals/${id}/approve`, {
      method: "POST",
      headers: { ...AUTH, "x-actor-id": "ops" },
    });
    expect(approved.status).toBe(200);
    expect(((await (await authorize(token)).json()) as { allowed: boolean }).allowed).toBe(true);
    const confirmations = () => stream.events().filter((e) => e.type === "confirmation");
    await stream.until(() => confirmations().length >= 3, "three confirmation events");
    expect(confirmations().map((e) => e.data)).toEqual([
      { id, status: "pending", policyId: "safe_delete", requestedBy: "api-token" },
      { id, status: "approved", policyId: "safe_delete" },
      { id, status: "consumed", policyId: "safe_delete" },
    ]);
    // The decisions are there too: the refusal that asked, then the confirmed call.
    const decisions = stream.events().filter((e) => e.type === "decision");
    expect(decisions.map((e) => e.data.action)).toEqual(["require_confirmation", "allow"]);
    expect(stream.blocks.join("\n")).not.toContain(token.split(".")[1]);
    await stream.leave();
  });

  it("sends a ping comment every heartbeat", async () => {
    const s = await start(50);
    const stream = await open(s.url);
    await stream.until(() => stream.blocks.filter((b) => b === ": ping").length >= 2, "pings");
    await stream.leave();
  });

  it("needs the read scope's credentials", async () => {
    const s = await start();
    const res = await fetch(`${s.url}/events/stream`);
    expect(res.status).toBe(401);
    expect(s.events.size).toBe(0);
  });

  it("frees the subscriber when the client leaves", async () => {
    const s = await start();
    const stream = await open(s.url);
    await stream.until(() => s.events.size === 1, "the subscriber");
    await stream.leave();
    await stream.until(() => s.events.size === 0, "the subscriber freed");
    // Publishing to nobody is a no-op, and the server still answers.
    expect((await fetch(`${s.url}/whoami`, { headers: AUTH })).status).toBe(200);
  });

  it("ends every open stream when the server closes, without hanging the close", async () => {
    const s = await start();
    const first = await open(s.url);
    const second = await open(s.url);
    await first.until(() => s.events.size === 2, "two subscribers");
    await s.app.close();
    await first.until(first.ended, "the first stream's end");
    await second.until(second.ended, "the second stream's end");
    expect(s.events.size).toBe(0);
    expect(s.events.closed).toBe(true);
  });

  it("drops a subscriber that falls too far behind, never blocking a decision", () => {
    const hub = new EventHub({ maxBuffered: 2 });
    const slow = hub.subscribe();
    for (let i = 0; i < 3; i++)
      hub.publish({
        type: "confirmation",
        data: { id: `r${i}`, status: "pending" },
      });
    expect(slow.dropped).toBe(true);
    expect(hub.size).toBe(0);
    hub.close();
  });
});

describe("GET /events/stream: who hears what, and how many", () => {
  const key = async (s: Running, scopes: ("read" | "approve" | "decide")[]) =>
    (await s.keys.create({ name: scopes.join("+") || "none", scopes })).key;

  it("refuses a stream over the per-principal cap or the global cap: 429 too_many_streams", async () => {
    const s = await start(60_000, { maxStreamsPerPrincipal: 2, maxStreams: 3 });
    const first = await open(s.url);
    const second = await open(s.url);
    const third = await fetch(`${s.url}/events/stream`, { headers: AUTH });
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("5");
    expect(await third.json()).toMatchObject({ code: "too_many_streams" });
    // Another principal still gets one, up to the global cap.
    const reader = await key(s, ["read"]);
    const byKey = await open(s.url, { authorization: `Bearer ${reader}` });
    expect(byKey.res.status).toBe(200);
    const other = await key(s, ["read"]);
    const over = await fetch(`${s.url}/events/stream`, {
      headers: { authorization: `Bearer ${other}` },
    });
    expect(over.status).toBe(429);
    expect(((await over.json()) as { message: string }).message).toMatch(/server/);
    expect(s.events.size).toBe(3);
    // A stream that ends frees its place.
    await first.leave();
    await second.until(() => s.events.size === 2, "a place freed");
    const again = await open(s.url);
    expect(again.res.status).toBe(200);
    for (const stream of [second, byKey, again]) await stream.leave();
  });

  it("admits an approve-only key to confirmation events only, a read key to every event", async () => {
    const s = await start();
    const approver = await open(s.url, { authorization: `Bearer ${await key(s, ["approve"])}` });
    const reader = await open(s.url, { authorization: `Bearer ${await key(s, ["read"])}` });
    expect(approver.res.status).toBe(200);
    expect(reader.res.status).toBe(200);
    const decider = await fetch(`${s.url}/events/stream`, {
      headers: { authorization: `Bearer ${await key(s, ["decide"])}` },
    });
    expect(decider.status).toBe(403);
    expect(await decider.json()).toMatchObject({ code: "insufficient_scope" });
    const asked = await fetch(`${s.url}/authorize`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({ policyId: "safe_delete", context: { operation: "delete" } }),
    });
    expect(asked.headers.get("x-confirmation-token")).toBeTruthy();
    await reader.until(
      () =>
        reader.events().some((e) => e.type === "confirmation") &&
        reader.events().some((e) => e.type === "decision"),
      "a decision and a confirmation for the reader",
    );
    await approver.until(
      () => approver.events().some((e) => e.type === "confirmation"),
      "a confirmation for the approver",
    );
    expect(approver.events().map((e) => e.type)).toEqual(["confirmation"]);
    await approver.leave();
    await reader.leave();
  });

  it("answers HEAD with the stream's headers and ends, subscribing nothing", async () => {
    const s = await start();
    const res = await fetch(`${s.url}/events/stream`, {
      method: "HEAD",
      headers: AUTH,
      signal: AbortSignal.timeout(3000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(s.events.size).toBe(0);
    expect((await fetch(`${s.url}/events/stream`, { method: "HEAD" })).status).toBe(401);
  });
});

describe("withDecisionEvents", () => {
  const entry = {
    decision: {
      decisionId: "d1",
      timestamp: "2026-12-01T00:00:00.000Z",
      policyId: "open",
      decision: "allowed",
      action: "allow",
      reason: "ok",
    },
  } as unknown as DecisionEntry;

  it("publishes a durable record's event only once it is written, and none when it fails", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe();
    const settle: { resolve: () => void; reject: (e: Error) => void }[] = [];
    const recorder = {
      record: (_e: DecisionEntry) =>
        new Promise<void>((resolve, reject) => settle.push({ resolve, reject })),
    };
    const wrapped = withDecisionEvents(recorder, hub);
    const first = wrapped.record(entry) as Promise<void>;
    let got: string | undefined;
    void sub.next().then((t) => {
      got = t;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBeUndefined();
    settle[0]?.resolve();
    await first;
    await new Promise((r) => setTimeout(r, 0));
    expect(got).toMatch(/^event: decision\n/);
    const failed = wrapped.record(entry) as Promise<void>;
    settle[1]?.reject(new Error("disk full"));
    await expect(failed).rejects.toThrow("disk full");
    await new Promise((r) => setTimeout(r, 20));
    let next: string | undefined = "none";
    void sub.next().then((t) => {
      next = t;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(next).toBe("none");
    // A recorder that answers at once publishes at once.
    const sync = withDecisionEvents({ record: (_e: DecisionEntry) => undefined }, hub);
    sync.record(entry);
    await new Promise((r) => setTimeout(r, 0));
    expect(next).toMatch(/^event: decision\n/);
    hub.close();
  });
});
