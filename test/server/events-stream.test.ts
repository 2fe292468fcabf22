/**
 * `GET /events/stream` on a listening server, read as the console reads it (fetch and a
 * stream reader): decisions and confirmation requests as they happen, heartbeats, and
 * the stream's end when the client leaves or the server closes.
 */
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian, MemoryConfirmationStore } from "../../src/index.ts";
import { borrowedConfirmations, createServer, EventHub } from "../../src/server/index.ts";

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
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.app.close();
    await r.logger.close();
  }
});

async function start(heartbeatMs = 60_000): Promise<Running> {
  const events = new EventHub({ heartbeatMs });
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
    logger: false,
    events,
  });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  const r = { app, url: address, events, logger };
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
