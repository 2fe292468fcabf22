/**
 * The nodes in Node-RED's runtime (node-red-node-test-helper) against a real `serve api`:
 * each output gets what its decision says, failures reach the catch node with `msg.error`
 * and nothing else, approvals release waiting messages, reported spend settles a budget.
 */

import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Server, startServer, TOKEN, until } from "./support.ts";

const require = createRequire(import.meta.url);

interface Msg {
  [key: string]: unknown;
  payload?: unknown;
}
interface HelperNode {
  on(event: "input", listener: (msg: Msg) => void): void;
  receive(msg: Msg): void;
}
/** The parts of node-red-node-test-helper used here (it ships no types). */
interface TestHelper {
  init(runtimePath: string, settings?: object): void;
  startServer(done: () => void): void;
  stopServer(done: () => void): void;
  load(
    nodes: readonly unknown[],
    flow: readonly object[],
    credentials: Record<string, object>,
    done: () => void,
  ): void;
  unload(): Promise<void>;
  getNode(id: string): HelperNode;
}

const helper = require("node-red-node-test-helper") as TestHelper;
helper.init(require.resolve("node-red"));

const NODES = [
  require("../nodes/hexarch-config.js"),
  require("../nodes/hexarch-authorize.js"),
  require("../nodes/hexarch-report-spend.js"),
  require("../nodes/hexarch-wait-approval.js"),
  require("@node-red/nodes/core/common/25-catch.js"),
];

let server: Server;
beforeAll(async () => {
  server = await startServer();
}, 30_000);
afterAll(async () => {
  await server?.close();
});
beforeEach(() => new Promise<void>((done) => helper.startServer(done)));
afterEach(async () => {
  await helper.unload();
  await new Promise<void>((done) => helper.stopServer(done));
});

const SINKS = [
  "allowed",
  "denied",
  "confirm",
  "approved",
  "rejected",
  "expired",
  "spent",
  "caught",
] as const;
type Sink = (typeof SINKS)[number];

/**
 * Loads a flow of `nodes` (wired to the helper sinks by name) plus a catch node and the
 * config node, and answers what reaches each sink.
 */
async function load(
  nodes: readonly object[],
  config: { url?: string; token?: string | null; timeout?: number } = {},
): Promise<Record<Sink, Msg[]>> {
  const flow = [
    { id: "f1", type: "tab", label: "test" },
    {
      id: "cfg",
      type: "hexarch-config",
      url: config.url ?? server.url,
      actorId: "node-red",
      timeout: config.timeout ?? 3000,
    },
    // x and y make them flow nodes rather than config nodes
    ...nodes.map((n) => ({ z: "f1", x: 0, y: 0, ...n })),
    {
      id: "catcher",
      z: "f1",
      x: 0,
      y: 0,
      type: "catch",
      scope: null,
      uncaught: false,
      wires: [["caught"]],
    },
    ...SINKS.map((id) => ({ id, z: "f1", x: 0, y: 0, type: "helper" })),
  ];
  const credentials: Record<string, object> =
    config.token === null ? {} : { cfg: { token: config.token ?? TOKEN } };
  await new Promise<void>((done) => helper.load(NODES, flow, credentials, done));
  const got = Object.fromEntries(SINKS.map((s) => [s, [] as Msg[]])) as Record<Sink, Msg[]>;
  for (const s of SINKS) helper.getNode(s).on("input", (msg) => got[s].push(msg));
  return got;
}

const authorize = (extra: object = {}) => ({
  id: "auth",
  type: "hexarch-authorize",
  server: "cfg",
  context: "payload",
  contextType: "msg",
  wires: [["allowed"], ["denied"], ["confirm"]],
  ...extra,
});

const total = (got: Record<Sink, Msg[]>) => SINKS.reduce((n, s) => n + got[s].length, 0);

describe("hexarch-authorize", () => {
  it("sends allowed messages to output 1 and denied ones to output 2, with the decision", async () => {
    const got = await load([authorize({ policyId: "limited" })]);
    const auth = helper.getNode("auth");
    for (let i = 0; i < 3; i++) auth.receive({ payload: { userId: "alice" }, n: i });
    await until(() => total(got) === 3, 5000, "three decisions");
    expect(got.allowed.map((m) => m.n).sort()).toEqual([0, 1].sort());
    expect(got.allowed[0]?.hexarch).toMatchObject({
      allowed: true,
      decision: "ALLOW",
      action: "allow",
    });
    expect(got.denied).toHaveLength(1);
    expect(got.denied[0]?.hexarch).toMatchObject({
      allowed: false,
      decision: "DENY",
      action: "block",
    });
    expect(String((got.denied[0]?.hexarch as { reason?: string } | undefined)?.reason)).toContain(
      "requests per minute",
    );
    expect(got.confirm).toEqual([]);
    expect(got.caught).toEqual([]);
  });

  it("takes the policy id from msg.policyId or msg.policy_id, and the context from a JSONata expression", async () => {
    const got = await load([
      authorize({ context: '{"operation": op, "table": t}', contextType: "jsonata" }),
    ]);
    helper.getNode("auth").receive({ policyId: "ops", op: "drop_table", t: "users" });
    helper.getNode("auth").receive({ policy_id: "ops", op: "select", t: "users" });
    await until(() => total(got) === 2);
    expect(got.denied[0]?.hexarch).toMatchObject({ action: "block", policies: ["ops"] });
    expect(got.allowed[0]?.hexarch).toMatchObject({ action: "allow" });
  });

  it("routes a confirmation to output 3 with the token; once approved by another principal, wait-approval releases it and it is allowed", async () => {
    const got = await load([
      authorize({ policyId: "ops" }),
      {
        id: "wait",
        type: "hexarch-wait-approval",
        server: "cfg",
        interval: 0.1,
        timeout: 10,
        maxPending: 5,
        wires: [["approved", "auth"], ["rejected"], ["expired"]],
      },
    ]);
    // output 3 goes both to the sink and to the wait node
    helper.getNode("auth").receive({ payload: { operation: "delete", id: 7 } });
    await until(() => got.confirm.length === 1, 5000, "output 3");
    const token = got.confirm[0]?.confirmationToken;
    expect(typeof token).toBe("string");
    expect(got.confirm[0]?.hexarch).toMatchObject({
      allowed: false,
      action: "require_confirmation",
    });
    expect(got.allowed).toEqual([]);
    expect(got.denied).toEqual([]);
    helper.getNode("wait").receive({ ...got.confirm[0] });
    await new Promise((done) => setTimeout(done, 300));
    expect(got.approved).toEqual([]); // still pending
    const approved = await server.answer(String(token), "approve");
    expect(approved.status).toBe(200);
    await until(() => got.allowed.length === 1, 5000, "the approved message allowed");
    expect(got.approved[0]?.approval).toMatchObject({ status: "approved" });
    expect(got.allowed[0]?.hexarch).toMatchObject({ allowed: true, action: "allow" });
    expect(got.allowed[0]?.confirmationToken).toBeUndefined();
    expect(got.caught).toEqual([]);
  });

  it("routes a denied approval to wait-approval's output 2, and a wait past its time limit to output 3", async () => {
    const got = await load([
      authorize({ policyId: "ops" }),
      {
        id: "wait",
        type: "hexarch-wait-approval",
        server: "cfg",
        interval: 0.1,
        timeout: 0.6,
        maxPending: 1,
        wires: [["approved"], ["rejected"], ["expired"]],
      },
    ]);
    helper.getNode("auth").receive({ payload: { operation: "delete", id: 8 } });
    helper.getNode("auth").receive({ payload: { operation: "delete", id: 9 } });
    await until(() => got.confirm.length === 2);
    const [first, second] = got.confirm as [Msg, Msg];
    helper.getNode("wait").receive({ ...first });
    // One message waits already: the node's limit refuses the next on the catch path.
    helper.getNode("wait").receive({ ...second });
    await until(() => got.caught.length === 1);
    expect(got.caught[0]?.error).toMatchObject({ code: "hexarch_too_many_pending" });
    expect((await server.answer(String(first.confirmationToken), "deny")).status).toBe(200);
    await until(() => got.rejected.length === 1);
    expect(got.rejected[0]?.approval).toMatchObject({ status: "denied" });
    helper.getNode("wait").receive({ ...second });
    await until(() => got.expired.length === 1, 3000);
    expect(got.expired[0]?.approval).toMatchObject({ status: "timeout" });
    expect(got.approved).toEqual([]);
  });

  it("stops polling when the flow is stopped (redeploy, shutdown)", async () => {
    // A pass-through in front of the real server, counting the polls it forwards.
    let polls = 0;
    const proxy = createServer((req, res) => {
      if (req.url?.startsWith("/approvals/")) polls++;
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const answer = await fetch(server.url + req.url, {
          method: req.method ?? "GET",
          headers,
          ...(body ? { body } : {}),
        });
        res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "" });
        res.end(Buffer.from(await answer.arrayBuffer()));
      });
    });
    await new Promise<void>((done) => proxy.listen(0, "127.0.0.1", done));
    const { port } = proxy.address() as AddressInfo;
    try {
      const got = await load(
        [
          authorize({ policyId: "ops" }),
          {
            id: "wait",
            type: "hexarch-wait-approval",
            server: "cfg",
            interval: 0.05,
            timeout: 30,
            maxPending: 5,
            wires: [["approved"], ["rejected"], ["expired"]],
          },
        ],
        { url: `http://127.0.0.1:${port}` },
      );
      helper.getNode("auth").receive({ payload: { operation: "delete", id: 10 } });
      await until(() => got.confirm.length === 1);
      helper.getNode("wait").receive({ ...got.confirm[0] });
      await until(() => polls >= 3, 3000, "polling");
      await helper.unload();
      const after = polls;
      await new Promise((done) => setTimeout(done, 300));
      expect(polls - after).toBeLessThanOrEqual(1); // at most the one already in flight
      expect(got.approved).toEqual([]);
    } finally {
      proxy.closeAllConnections();
      await new Promise((done) => proxy.close(done));
    }
  });

  it("refuses settings past its limits (interval 1 h, timeout 7 d, max waiting 10,000) at runtime", async () => {
    for (const bad of [{ interval: 3601 }, { timeout: 604_801 }, { maxPending: 10_001 }]) {
      const got = await load([
        {
          id: "wait",
          type: "hexarch-wait-approval",
          server: "cfg",
          interval: 5,
          timeout: 600,
          maxPending: 5,
          ...bad,
          wires: [["approved"], ["rejected"], ["expired"]],
        },
      ]);
      helper.getNode("wait").receive({ confirmationToken: "t" });
      await until(() => got.caught.length === 1);
      expect(got.caught[0]?._error).toMatchObject({ code: "hexarch_not_configured" });
      expect(
        String((got.caught[0]?._error as { message?: string } | undefined)?.message),
      ).toContain(`${Object.keys(bad)[0]} must be a number above 0 and at most`);
      expect(total(got)).toBe(1);
      await helper.unload();
    }
  });

  it("aborts a poll in flight when the flow is stopped", async () => {
    // A server that holds every approvals poll open, and notes when the client hangs up.
    let held = 0;
    let hungUp = 0;
    const holder = createServer((req, res) => {
      held++;
      res.on("close", () => hungUp++);
      void req;
    });
    await new Promise<void>((done) => holder.listen(0, "127.0.0.1", done));
    const { port } = holder.address() as AddressInfo;
    try {
      const got = await load(
        [
          {
            id: "wait",
            type: "hexarch-wait-approval",
            server: "cfg",
            interval: 1,
            timeout: 60,
            maxPending: 5,
            wires: [["approved"], ["rejected"], ["expired"]],
          },
        ],
        { url: `http://127.0.0.1:${port}`, timeout: 30_000 },
      );
      helper.getNode("wait").receive({ confirmationToken: "t" });
      await until(() => held === 1);
      await helper.unload();
      await until(() => hungUp === 1, 1000, "the poll aborted");
      expect(total(got)).toBe(0);
    } finally {
      holder.closeAllConnections();
      await new Promise((done) => holder.close(done));
    }
  });

  it("sends nothing to any output when the server is down: the catch node gets msg.error", async () => {
    const got = await load([authorize({ policyId: "limited" })], { url: "http://127.0.0.1:9" });
    helper.getNode("auth").receive({ payload: { userId: "bob" } });
    await until(() => got.caught.length === 1);
    await new Promise((done) => setTimeout(done, 100));
    expect(total(got)).toBe(1);
    const caught = got.caught[0] as Msg;
    expect(caught.error).toMatchObject({ code: "hexarch_unreachable" });
    expect(String((caught.error as { message: string }).message)).toContain(
      "cannot reach http://127.0.0.1:9",
    );
    expect(caught._error).toEqual({
      message: expect.stringContaining("cannot reach"),
      code: "hexarch_unreachable",
      status: null,
    });
  });

  it("gives up on a server that accepts the connection and never answers: hexarch_timeout on the catch path", async () => {
    const silent = createServer(() => {}); // holds every connection open, answers nothing
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const { port } = silent.address() as AddressInfo;
    try {
      const got = await load([authorize({ policyId: "limited" })], {
        url: `http://127.0.0.1:${port}`,
        timeout: 300,
      });
      const t0 = Date.now();
      helper.getNode("auth").receive({ payload: { userId: "dave" } });
      await until(() => got.caught.length === 1, 3000);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(got.caught[0]?._error).toEqual({
        message: expect.stringContaining("within 300 ms"),
        code: "hexarch_timeout",
        status: null,
      });
      expect(total(got)).toBe(1);
    } finally {
      silent.closeAllConnections();
      await new Promise((done) => silent.close(done));
    }
  });

  it("puts a missing token (401) and a wrong token (403) on the catch path, never on output 1", async () => {
    for (const [token, status, code] of [
      [null, 401, "unauthenticated"],
      ["not-the-token", 403, "forbidden"],
    ] as const) {
      const got = await load([authorize({ policyId: "limited" })], { token });
      helper.getNode("auth").receive({ payload: { userId: "carol" } });
      await until(() => got.caught.length === 1);
      expect(total(got)).toBe(1);
      expect(got.caught[0]?.error).toMatchObject({ code, cause: { status } });
      expect(got.caught[0]?._error).toMatchObject({ code, status });
      await helper.unload();
    }
  });

  it("never follows a redirect: a 3xx is hexarch_bad_response and its target gets nothing", async () => {
    const hits: Array<Record<string, unknown>> = [];
    const target = createServer((req, res) => {
      hits.push(req.headers);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ allowed: true, action: "allow", decision: "ALLOW" }));
    });
    await new Promise<void>((done) => target.listen(0, "127.0.0.1", done));
    const { port: targetPort } = target.address() as AddressInfo;
    const redirector = createServer((_, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${targetPort}/authorize` });
      res.end();
    });
    await new Promise<void>((done) => redirector.listen(0, "127.0.0.1", done));
    const { port } = redirector.address() as AddressInfo;
    try {
      const got = await load([authorize({ policyId: "limited" })], {
        url: `http://127.0.0.1:${port}`,
      });
      helper.getNode("auth").receive({ payload: { userId: "alice" }, confirmationToken: "t" });
      await until(() => got.caught.length === 1);
      await new Promise((done) => setTimeout(done, 100));
      expect(total(got)).toBe(1);
      expect(got.caught[0]?._error).toMatchObject({ code: "hexarch_bad_response", status: 307 });
      expect(hits).toEqual([]);
    } finally {
      await new Promise((done) => redirector.close(done));
      await new Promise((done) => target.close(done));
    }
  });

  it("refuses a server URL with a user and password, and never shows them", async () => {
    const got = await load([authorize({ policyId: "limited" })], {
      url: server.url.replace("http://", "http://someone:s3cret-pw@"),
    });
    helper.getNode("auth").receive({ payload: { userId: "alice" } });
    await until(() => got.caught.length === 1);
    expect(total(got)).toBe(1);
    expect(got.caught[0]?._error).toMatchObject({ code: "hexarch_not_configured" });
    expect(JSON.stringify(got.caught[0]?._error)).not.toMatch(/s3cret-pw|someone/);
    const { shownUrl } = require("../nodes/lib/client.js") as {
      shownUrl(url: string): string;
    };
    expect(shownUrl("https://u:p@h:1/x@y")).toBe("https://h:1/x@y");
    expect(shownUrl("http://h/")).toBe("http://h/");
  });

  it("puts an unknown policy on the catch path with the server's code", async () => {
    const got = await load([authorize({ policyId: "no_such_policy" })]);
    helper.getNode("auth").receive({ payload: {} });
    await until(() => got.caught.length === 1);
    expect(got.caught[0]?._error).toMatchObject({ code: "unknown_policy", status: 404 });
    expect(total(got)).toBe(1);
  });
});

describe("hexarch-report-spend", () => {
  it("reports a provider call's cost; the budget then refuses the next authorize", async () => {
    const got = await load([
      authorize({ policyId: "openai_budget" }),
      {
        id: "spend",
        type: "hexarch-report-spend",
        server: "cfg",
        resource: "openai",
        wires: [["spent"]],
      },
    ]);
    helper.getNode("auth").receive({ payload: { resource: "openai" } });
    await until(() => got.allowed.length === 1);
    helper
      .getNode("spend")
      .receive({ model: "gpt-4o", tokensIn: 1200, tokensOut: 300, costUsd: 1.5 });
    await until(() => got.spent.length === 1);
    expect(got.spent[0]?.hexarchSpend).toMatchObject({
      recorded: true,
      settled: [{ policyId: "openai_budget", spentUsd: 1.5 }],
    });
    helper.getNode("auth").receive({ payload: { resource: "openai" } });
    await until(() => got.denied.length === 1);
    expect(String((got.denied[0]?.hexarch as { reason?: string } | undefined)?.reason)).toMatch(
      /budget/i,
    );
    expect(got.caught).toEqual([]);
  });

  it("uses the node's resource when msg.resource is the Python shape's { type, id }", async () => {
    const got = await load([
      {
        id: "spend",
        type: "hexarch-report-spend",
        server: "cfg",
        resource: "anthropic",
        wires: [["spent"]],
      },
    ]);
    helper.getNode("spend").receive({ resource: { type: "doc", id: "1" }, costUsd: 0.01 });
    await until(() => got.spent.length + got.caught.length === 1);
    expect(got.caught).toEqual([]);
    expect(got.spent[0]?.hexarchSpend).toMatchObject({ recorded: true, resource: "anthropic" });
  });

  it("refuses a report without a resource on the catch path", async () => {
    const got = await load([
      { id: "spend", type: "hexarch-report-spend", server: "cfg", wires: [["spent"]] },
    ]);
    helper.getNode("spend").receive({ costUsd: 0.1 });
    await until(() => got.caught.length === 1);
    expect(got.caught[0]?._error).toMatchObject({ code: "hexarch_invalid_input" });
    expect(got.spent).toEqual([]);
  });
});
