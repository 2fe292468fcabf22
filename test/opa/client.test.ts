/**
 * OpaDecisionClient against a local server that speaks OPA's Data API (`POST /v1/data/...`
 * with `{input}` → `{result}`, `PUT /v1/policies/...`): both layouts, every shape of answer,
 * and every way OPA can fail — no OPA binary needed.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  ConfirmationRequired,
  type Decision,
  DecisionBackendError,
  Guardian,
  GuardrailError,
  PolicyViolation,
} from "../../src/index.ts";
import { OpaDecisionClient, toRego } from "../../src/opa/index.ts";

/** One request as the server saw it. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  /** Which connection carried it: 1 for the server's first socket, 2 for its second… */
  readonly socket: number;
}

/** What the handler answers: a status and a JSON body (or raw text), or no answer at all. */
type Reply = { status?: number; json?: unknown; text?: string } | "hang";

interface FakeOpa {
  readonly url: string;
  readonly seen: Seen[];
  handler: (req: Seen) => Reply;
  /** The input of the last Data API request. */
  lastInput(): Record<string, unknown>;
}

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((done) => s.close(done));
  }
});

async function fakeOpa(handler: (req: Seen) => Reply): Promise<FakeOpa> {
  const seen: Seen[] = [];
  const sockets = new WeakMap<Socket, number>();
  let connections = 0;
  const fake: FakeOpa = {
    url: "",
    seen,
    handler,
    lastInput: () => {
      const last = seen.filter((s) => s.url.startsWith("/v1/data/")).at(-1);
      return (JSON.parse(last?.body ?? "{}") as { input: Record<string, unknown> }).input;
    },
  };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      let id = sockets.get(req.socket);
      if (id === undefined) {
        id = ++connections;
        sockets.set(req.socket, id);
      }
      const s: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body,
        socket: id,
      };
      seen.push(s);
      const reply = fake.handler(s);
      if (reply === "hang") return; // never answers
      const text = reply.text ?? JSON.stringify(reply.json ?? {});
      res.writeHead(reply.status ?? 200, { "content-type": "application/json" });
      res.end(text);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, { url: `http://127.0.0.1:${port}` });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, "127.0.0.1", done));
  const { port } = s.address() as AddressInfo;
  await new Promise((done) => s.close(done));
  return port;
}

/** What the Rego from `toRego` answers for safe_delete: confirmation unless confirm is true. */
const safeDelete = (req: Seen): Reply => {
  const input = (JSON.parse(req.body) as { input: Record<string, unknown> }).input;
  if (input.operation !== "delete" || input.confirm === true) {
    return {
      json: { result: { allowed: true, action: "allow", reason: "Policy 'safe_delete' allowed" } },
    };
  }
  return {
    json: {
      result: {
        allowed: false,
        action: "require_confirmation",
        reason:
          "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
      },
    },
  };
};

const reasonOf = (e: unknown) => (e as PolicyViolation).reason;

describe("OpaDecisionClient, one rule per policy", () => {
  let opa: FakeOpa;
  beforeEach(async () => {
    opa = await fakeOpa(safeDelete);
  });

  it("posts {input: context} to /v1/data/hexarch/<policyId> and maps the answer", async () => {
    const client = new OpaDecisionClient({ url: opa.url, headers: { authorization: "Bearer t" } });
    const answer = await client.decide("safe_delete", { operation: "delete", userId: "u1" });
    expect(answer).toEqual({
      allowed: false,
      action: "require_confirmation",
      reason:
        "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
    });
    const [req] = opa.seen;
    expect(req).toMatchObject({ method: "POST", url: "/v1/data/hexarch/safe_delete" });
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(req?.headers.authorization).toBe("Bearer t");
    expect(JSON.parse(req?.body ?? "")).toEqual({
      input: { operation: "delete", userId: "u1" },
    });
    // The Python SDK's name for the same call.
    expect((await client.checkPolicy("safe_delete", { operation: "read" })).allowed).toBe(true);
  });

  it("keeps its connections alive across decisions", async () => {
    const client = new OpaDecisionClient({ url: opa.url });
    // Decisions a moment apart reuse one socket.
    for (let i = 0; i < 5; i++) {
      await client.decide("safe_delete", { operation: "read" });
      await new Promise((done) => setImmediate(done));
    }
    expect(opa.seen.map((s) => s.socket)).toEqual([1, 1, 1, 1, 1]);
    // Back to back, undici hands a socket back to its pool a tick after the answer, so the
    // next request may take a second one; still no new connection per decision.
    for (let i = 0; i < 20; i++) await client.decide("safe_delete", { operation: "read" });
    expect(new Set(opa.seen.map((s) => s.socket)).size).toBeLessThanOrEqual(2);
  });

  it("builds the path from `path` (slashes or dots) and encodes the policy id", async () => {
    const client = new OpaDecisionClient({ url: `${opa.url}/`, path: "org.guardrails/v2" });
    await client.decide("my policy/x", {});
    expect(opa.seen[0]?.url).toBe("/v1/data/org/guardrails/v2/my%20policy%2Fx");
    expect(client.pathFor("safe_delete")).toBe("/v1/data/org/guardrails/v2/safe_delete");
  });

  it("agrees with toRego on where a policy lives", () => {
    const yaml =
      "policies: [{ id: safe_delete, rules: [{ operation: delete, action: require_confirmation }] }, { id: kitchen-sink, rules: [{ action: block }] }]";
    for (const id of ["safe_delete", "kitchen-sink"]) {
      expect(toRego(yaml, id)).toContain(
        `# POST ${new OpaDecisionClient({ url: opa.url }).pathFor(id)} with {"input": <context>}`,
      );
      expect(toRego(yaml, id, { path: "org/guardrails" })).toContain(
        `# POST ${new OpaDecisionClient({ url: opa.url, path: "org/guardrails" }).pathFor(id)} with`,
      );
    }
  });

  it("sends credentials in the URL as basic auth, and never shows them", async () => {
    const client = new OpaDecisionClient({ url: opa.url.replace("//", "//ops:s%40cret@") });
    expect(client.url).toBe(opa.url);
    await client.decide("safe_delete", {});
    expect(opa.seen[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("ops:s@cret").toString("base64")}`,
    );
  });

  it("never sends a confirmation token", async () => {
    const client = new OpaDecisionClient({ url: opa.url });
    await client.decide("safe_delete", {
      confirmationToken: "secret",
      confirmation_token: "x",
      a: 1,
    });
    expect(opa.lastInput()).toEqual({ a: 1 });
  });

  it("publishes a module with PUT /v1/policies/<name> as text/plain", async () => {
    opa.handler = () => ({ json: {} });
    const client = new OpaDecisionClient({ url: opa.url });
    const rego = toRego(
      "policies: [{ id: safe_delete, rules: [{ operation: delete, action: require_confirmation }] }]",
      "safe_delete",
    );
    await client.publishPolicy("hexarch/safe_delete", rego);
    expect(opa.seen[0]).toMatchObject({
      method: "PUT",
      url: "/v1/policies/hexarch/safe_delete",
      body: rego,
    });
    expect(opa.seen[0]?.headers["content-type"]).toBe("text/plain");
    opa.handler = () => ({
      status: 400,
      json: {
        code: "invalid_parameter",
        message: "error(s) occurred while compiling module(s)",
        errors: [
          {
            code: "rego_parse_error",
            message: "unexpected eof token",
            location: { file: "hexarch/bad", row: 3, col: 1 },
          },
        ],
      },
    });
    const err = await client.publishPolicy("hexarch/bad", "package x\nallow if {").catch((e) => e);
    expect(err).toBeInstanceOf(DecisionBackendError);
    expect((err as Error).message).toBe(
      `OPA at ${opa.url} answered PUT /v1/policies/hexarch/bad with HTTP 400: invalid_parameter: error(s) occurred while compiling module(s); hexarch/bad:3:1: unexpected eof token`,
    );
  });

  it("refuses work once closed", async () => {
    const client = new OpaDecisionClient({ url: opa.url });
    client.close();
    await expect(client.decide("safe_delete", {})).rejects.toThrow("closed");
    await expect(client.publishPolicy("p", "package p")).rejects.toThrow("closed");
  });

  it("checks its options", () => {
    expect(() => new OpaDecisionClient({ url: "localhost:8181" })).toThrow(GuardrailError);
    expect(() => new OpaDecisionClient({ url: "ftp://opa" })).toThrow("http(s)");
    expect(() => new OpaDecisionClient({ url: opa.url, timeoutMs: 0 })).toThrow("timeoutMs");
    expect(() => new OpaDecisionClient({ url: opa.url, path: "/" })).toThrow("path");
  });
});

describe("OpaDecisionClient, the Python package's entry point", () => {
  it("posts to /v1/data/<entrypoint> with the policy id in input.policy_id", async () => {
    const opa = await fakeOpa((req) => {
      const input = (JSON.parse(req.body) as { input: { policy_id: string } }).input;
      return {
        json: { result: { allowed: input.policy_id !== "safe_delete", reason: "said so" } },
      };
    });
    const client = new OpaDecisionClient({ url: opa.url, entrypoint: "guardrails/evaluate" });
    expect(
      await client.decide("safe_delete", { operation: "delete", policy_id: "forged" }),
    ).toEqual({
      allowed: false,
      action: "block",
      reason: "said so",
    });
    expect(opa.seen[0]?.url).toBe("/v1/data/guardrails/evaluate");
    expect(opa.lastInput()).toEqual({ operation: "delete", policy_id: "safe_delete" });
    expect((await client.decide("api_budget", {})).allowed).toBe(true);
    expect(client.pathFor("anything")).toBe("/v1/data/guardrails/evaluate");
  });

  it("names the entry point and the policy when it has no decision", async () => {
    const opa = await fakeOpa(() => ({ json: {} }));
    const client = new OpaDecisionClient({ url: opa.url, entrypoint: "guardrails.evaluate" });
    const d = await client.decide("safe_delete", {});
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      `Policy 'safe_delete' blocked the call: OPA has no decision at ${opa.url}/v1/data/guardrails/evaluate for policy_id 'safe_delete' (the rule is missing or undefined for this input)`,
    );
  });
});

describe("what OPA answers", () => {
  const answerTo = async (result: unknown) => {
    const opa = await fakeOpa(() => ({ json: result === undefined ? {} : { result } }));
    return new OpaDecisionClient({ url: opa.url }).decide("p", {});
  };

  it("takes {allowed, reason, action}, allow/deny booleans, a deny set and a bare boolean", async () => {
    expect(await answerTo({ allowed: true, action: "warn", reason: "careful" })).toEqual({
      allowed: true,
      action: "warn",
      reason: "careful",
    });
    expect(await answerTo({ allowed: false, action: "require_approval", reason: "ask" })).toEqual({
      allowed: false,
      action: "require_confirmation",
      reason: "ask",
    });
    expect(await answerTo({ allowed: false, action: "deny" })).toMatchObject({ action: "block" });
    expect(await answerTo({ allow: true })).toEqual({
      allowed: true,
      action: "allow",
      reason: "Policy 'p' allowed the call (the OPA decision at /v1/data/hexarch/p gave no reason)",
    });
    expect(await answerTo({ allow: true, deny: true })).toMatchObject({ allowed: false });
    expect(await answerTo({ deny: false })).toMatchObject({ allowed: true });
    expect(await answerTo({ deny: ["no deletes on Friday", "no user"] })).toEqual({
      allowed: false,
      action: "block",
      reason: "Policy 'p' blocked the call: no deletes on Friday; no user",
    });
    expect(await answerTo({ deny: [] })).toMatchObject({ allowed: true });
    expect(await answerTo(true)).toEqual({
      allowed: true,
      action: "allow",
      reason: "Policy 'p' allowed the call: the OPA decision at /v1/data/hexarch/p is true",
    });
    expect(await answerTo(false)).toMatchObject({ allowed: false, action: "block" });
  });

  it("refuses, whatever the fail-open setting, when OPA has no decision (no rule there)", async () => {
    const opa = await fakeOpa(() => ({ json: {} }));
    const client = new OpaDecisionClient({ url: opa.url, failOpen: true, clock: () => 1e12 });
    const d = (await client.decide("safe_delete", {})) as Decision;
    expect(d.timestampMs).toBe(1e12);
    expect(d).toMatchObject({ allowed: false, action: "block", failedOpen: false });
    expect(d.reason).toBe(
      `Policy 'safe_delete' blocked the call: OPA has no decision at ${opa.url}/v1/data/hexarch/safe_delete (no rule there: load the policy's Rego, e.g. from \`hexarch-ctl policy export safe_delete --format rego\`)`,
    );
    expect(d.error).toBeInstanceOf(DecisionBackendError);
    const guardian = new Guardian({ opaUrl: opa.url, failOpen: true, env: {} });
    expect((await guardian.evaluate("safe_delete")).reason).toContain("OPA has no decision at");
  });

  it("treats nonsense as a failure: a string, no allowed, a contradiction, a body that is not JSON", async () => {
    await expect(answerTo("yes")).rejects.toThrow(
      'the OPA decision at /v1/data/hexarch/p is "yes", not {allowed, reason, action}, allow/deny or a boolean',
    );
    await expect(answerTo({ reason: "hm" })).rejects.toThrow(
      "has no boolean 'allowed' (nor 'allow' or 'deny'): keys reason",
    );
    await expect(answerTo({ allowed: true, action: "block" })).rejects.toThrow(
      "contradicts itself: allowed is true but action is 'block'",
    );
    const opa = await fakeOpa(() => ({ text: "<html>proxy error</html>" }));
    await expect(new OpaDecisionClient({ url: opa.url }).decide("p", {})).rejects.toThrow(
      `OPA at ${opa.url} answered POST /v1/data/hexarch/p with a body that is not JSON`,
    );
  });

  it("blocks a context that cannot be sent as JSON, even failing open", async () => {
    const opa = await fakeOpa(() => ({ json: { result: true } }));
    const client = new OpaDecisionClient({ url: opa.url, failOpen: true });
    const d = await client.decide("p", { amount: 10n });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("the context cannot be sent to OPA as JSON");
    expect(opa.seen).toEqual([]);
  });
});

describe("when OPA fails", () => {
  it("rejects with a DecisionBackendError naming OPA, the request and the HTTP status", async () => {
    const opa = await fakeOpa(() => ({
      status: 500,
      json: { code: "internal_error", message: "eval_builtin_error: boom" },
    }));
    const err = await new OpaDecisionClient({ url: opa.url })
      .decide("p", {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecisionBackendError);
    expect((err as Error).message).toBe(
      `OPA at ${opa.url} answered POST /v1/data/hexarch/p with HTTP 500: internal_error: eval_builtin_error: boom`,
    );
  });

  it("fails closed through the Guardian, and open when told to", async () => {
    const opa = await fakeOpa(() => ({ status: 500, text: "" }));
    const closed = new Guardian({ opaUrl: opa.url, env: {} });
    const err = await closed
      .check("p")(async () => "ran")()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyViolation);
    expect(reasonOf(err)).toBe(
      `Policy 'p' blocked the call: the decision backend failed, failing closed (OPA at ${opa.url} answered POST /v1/data/hexarch/p with HTTP 500)`,
    );
    expect((err as PolicyViolation).decision.error).toBeInstanceOf(DecisionBackendError);

    const open = new Guardian({ opaUrl: opa.url, failOpen: true, env: {} });
    expect(await open.check("p")(async () => "ran")()).toBe("ran");
    expect(await open.evaluate("p")).toMatchObject({ allowed: true, failedOpen: true });

    // A policy's own fail_open: true, and HEXARCH_POLICY_FAIL_CLOSED=false.
    const byPolicy = new Guardian({
      opaUrl: opa.url,
      policies: "policies: [{ id: p, fail_open: true, rules: [{ action: block }] }]",
      env: {},
    });
    expect((await byPolicy.evaluate("p")).allowed).toBe(true);
    const byEnv = new Guardian({ opaUrl: opa.url, env: { HEXARCH_POLICY_FAIL_CLOSED: "false" } });
    expect((await byEnv.evaluate("p")).allowed).toBe(true);
  });

  it("answers by the client's own failOpen when it has one", async () => {
    const opa = await fakeOpa(() => ({ status: 503, text: "overloaded" }));
    const open = await new OpaDecisionClient({ url: opa.url, failOpen: true }).decide("p", {});
    expect(open).toMatchObject({ allowed: true, action: "allow", failedOpen: true });
    expect(open.reason).toBe(
      `Policy 'p' allowed the call: OPA could not be asked, failing open (OPA at ${opa.url} answered POST /v1/data/hexarch/p with HTTP 503: overloaded)`,
    );
    expect(open.error).toBeInstanceOf(DecisionBackendError);
    const closed = await new OpaDecisionClient({ url: opa.url, failOpen: false }).decide("p", {});
    expect(closed).toMatchObject({ allowed: false, action: "block", failedOpen: false });
    // The Guardian keeps the client's answer: its own failOpen does not reopen it.
    const guardian = new Guardian({
      decisionClient: new OpaDecisionClient({ url: opa.url, failOpen: false }),
      failOpen: true,
      env: {},
    });
    expect((await guardian.evaluate("p")).allowed).toBe(false);
  });

  it("gives up on an OPA that never answers", async () => {
    const opa = await fakeOpa(() => "hang");
    const started = performance.now();
    const err = await new OpaDecisionClient({ url: opa.url, timeoutMs: 100 })
      .decide("p", {})
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(DecisionBackendError);
    expect((err as Error).message).toBe(
      `OPA at ${opa.url} did not answer POST /v1/data/hexarch/p within 100 ms`,
    );
    const guardian = new Guardian({ opaUrl: opa.url, timeoutMs: 100, env: {} });
    const d = await guardian.evaluate("p");
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("did not answer POST /v1/data/hexarch/p within 100 ms");
  });

  it("takes the timeout from the policy file's opa.timeout_seconds", async () => {
    const opa = await fakeOpa(() => "hang");
    const guardian = new Guardian({
      opaUrl: opa.url,
      policies: "opa: { timeout_seconds: 0.1 }\npolicies: [{ id: p, rules: [{ action: block }] }]",
      env: {},
    });
    const started = performance.now();
    const d = await guardian.evaluate("p");
    expect(performance.now() - started).toBeLessThan(2000);
    expect(d.reason).toContain("within 100 ms");
  });

  it("names the refused connection", async () => {
    const port = await closedPort();
    const err = await new OpaDecisionClient({ url: `http://127.0.0.1:${port}` })
      .decide("p", {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecisionBackendError);
    expect((err as Error).message).toBe(
      `OPA at http://127.0.0.1:${port} is unreachable (POST /v1/data/hexarch/p): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    const guardian = new Guardian({ opaUrl: `http://127.0.0.1:${port}`, env: {} });
    expect((await guardian.evaluate("p")).reason).toContain("failing closed (OPA at");
  });
});

describe("new Guardian({ opaUrl })", () => {
  it("decides through OPA: confirmation, then confirm: true", async () => {
    const opa = await fakeOpa(safeDelete);
    const guardian = new Guardian({ opaUrl: opa.url, env: {} });
    const remove = guardian.check("safe_delete", { operation: "delete" })(async () => "deleted");
    const err = await remove().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfirmationRequired);
    expect(reasonOf(err)).toBe(
      "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
    );
    expect(await guardian.withContext({ confirm: true }, () => remove())).toBe("deleted");
    expect(opa.lastInput()).toMatchObject({ operation: "delete", confirm: true });
    await guardian.close();
  });

  it("checks policy ids against the policies it is given", async () => {
    const opa = await fakeOpa(safeDelete);
    const guardian = new Guardian({
      opaUrl: opa.url,
      policies:
        "policies: [{ id: safe_delete, rules: [{ operation: delete, action: require_confirmation }] }]",
      env: {},
    });
    expect(() => guardian.check("safe_delet")).toThrow("unknown policy 'safe_delet'");
    expect((await guardian.evaluate("safe_delete", { operation: "delete" })).action).toBe(
      "require_confirmation",
    );
    expect(opa.seen).toHaveLength(1);
  });

  it("reads HEXARCH_POLICY_OPA_URL, else OPA_URL, when the Guardian configures itself", async () => {
    const first = await fakeOpa(() => ({ json: { result: false } }));
    const second = await fakeOpa(() => ({ json: { result: true } }));
    const both = new Guardian({ env: { HEXARCH_POLICY_OPA_URL: first.url, OPA_URL: second.url } });
    expect((await both.evaluate("p")).allowed).toBe(false);
    expect(first.seen).toHaveLength(1);
    const generic = new Guardian({ env: { OPA_URL: ` ${second.url} ` } });
    expect((await generic.evaluate("p")).allowed).toBe(true);
    expect(second.seen).toHaveLength(1);
    // Policies given in code, or a decisionClient, are never sent to OPA by the environment.
    const local = new Guardian({
      policies: "policies: [{ id: p, rules: [{ action: warn }] }]",
      env: { OPA_URL: first.url },
    });
    expect((await local.evaluate("p")).action).toBe("warn");
    const custom = new Guardian({
      decisionClient: { checkPolicy: () => ({ allowed: true, reason: "custom" }) },
      env: { OPA_URL: first.url },
    });
    expect((await custom.evaluate("p")).reason).toBe("custom");
    expect(first.seen).toHaveLength(1);
  });

  it("refuses an opaUrl beside a decisionClient", () => {
    expect(
      () =>
        new Guardian({
          opaUrl: "http://127.0.0.1:8181",
          decisionClient: { checkPolicy: () => ({ allowed: true }) },
          env: {},
        }),
    ).toThrow("a decisionClient or an opaUrl, not both");
  });
});
