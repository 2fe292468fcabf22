import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type IDataObject, NodeApiError, NodeOperationError } from "n8n-workflow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ListeningServe, serveApi } from "../../../test/support/serve-process.ts";
import { type RunSpec, runNode, testCredential } from "./execute-functions.ts";

const TOKEN = "n8n-node-test-token-0123456789abcdef";

const POLICIES = `
policies:
  - id: team_only
    rules: [{ resource: "*", allowed_users: [alice], action: block }]
  - id: openai_budget
    rules: [{ resource: openai, monthly_budget: 1, action: block }]
  - id: anthropic_budget
    rules: [{ resource: anthropic, monthly_budget: 1, action: block }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
`;

let dir: string;
let server: ListeningServe;
const children: ListeningServe["proc"][] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hexarch-n8n-"));
  writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
  server = await serveApi(
    ["--policy-file", join(dir, "hexarch.yaml"), "--db", join(dir, "decisions.db"), "--init-db"],
    { cwd: dir, env: { HEXARCH_API_TOKEN: TOKEN }, children },
  );
}, 30_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  if (server) await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

const creds = () => ({ url: `${server.url}/`, token: TOKEN });

function authorize(
  params: RunSpec["params"],
  items?: RunSpec["items"],
  extra: Partial<RunSpec> = {},
) {
  return runNode({
    params: { operation: "authorize", outputMode: "route", ...params },
    credentials: creds(),
    ...(items ? { items } : {}),
    ...extra,
  });
}

/** The confirmation token of the first item on the Denied output. */
function confirmationTokenOf(outputs: Awaited<ReturnType<typeof runNode>>["outputs"]): string {
  const decision = outputs[1]?.[0]?.json.guardrails as { confirmationToken?: unknown } | undefined;
  if (typeof decision?.confirmationToken !== "string") throw new Error("no confirmation token");
  return decision.confirmationToken;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A URL nothing listens on. */
async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return `http://127.0.0.1:${port}`;
}

describe("Authorize", () => {
  it("routes an allowed item to the first output and a denied one to the second", async () => {
    const { outputs, sent } = await authorize(
      {
        policyId: "team_only",
        contextSource: "json",
        contextJson: (i: number) =>
          JSON.stringify({ resource: "crm", userId: ["alice", "bob"][i] }),
      },
      [{ who: "alice" }, { who: "bob" }],
    );
    expect(outputs).toHaveLength(2);
    const [allowed, denied] = outputs as [(typeof outputs)[number], (typeof outputs)[number]];
    expect(allowed).toHaveLength(1);
    expect(allowed[0]?.json).toMatchObject({
      who: "alice",
      guardrails: { allowed: true, decision: "ALLOW", policies: ["team_only"] },
    });
    expect(allowed[0]?.pairedItem).toEqual({ item: 0 });
    expect(denied).toHaveLength(1);
    expect(denied[0]?.json).toMatchObject({
      who: "bob",
      guardrails: { allowed: false, decision: "DENY", action: "block" },
    });
    expect(denied[0]?.json.guardrails).toMatchObject({
      reason: expect.stringContaining("team_only"),
    });
    expect(denied[0]?.pairedItem).toEqual({ item: 1 });
    // The credential was applied as n8n applies it: a bearer token, to the URL without its slash.
    expect(sent[0]).toMatchObject({
      method: "POST",
      url: `${server.url}/authorize`,
      headers: { authorization: `Bearer ${TOKEN}` },
      body: { policyId: "team_only", context: { resource: "crm", userId: "alice" } },
    });
  });

  it("builds the context from fields, or from the whole item without the decision field", async () => {
    const fields = await authorize({
      policyId: "team_only",
      contextSource: "fields",
      contextFields: {
        field: [
          { name: "resource", value: "crm" },
          { name: "userId", value: "alice" },
        ],
      },
    });
    expect(fields.outputs[0]).toHaveLength(1);
    const item = await authorize(
      { policyId: "team_only", contextSource: "item", options: { decisionField: "gate" } },
      [{ resource: "crm", userId: "alice", gate: { allowed: false } }],
    );
    expect(item.sent[0]?.body).toEqual({
      policyId: "team_only",
      context: { resource: "crm", userId: "alice" },
    });
    expect(item.outputs[0]?.[0]?.json.gate).toMatchObject({ allowed: true });
  });

  it("sends an item that needs confirmation to Denied, with the confirmation token", async () => {
    const { outputs } = await authorize({
      policyId: "safe_delete",
      contextJson: { operation: "delete", id: 7 },
    });
    expect(outputs[0]).toEqual([]);
    const decision = outputs[1]?.[0]?.json.guardrails as Record<string, unknown>;
    expect(decision).toMatchObject({
      allowed: false,
      decision: "DENY",
      action: "require_confirmation",
    });
    expect(decision.confirmationToken).toMatch(/^[^.]+\..+$/);
    expect(typeof decision.expiresAt).toBe("string");
  });

  it("in Continue mode puts every item on one output, in order, with its decision", async () => {
    const { outputs } = await authorize(
      {
        outputMode: "continue",
        policyId: "team_only",
        contextSource: "item",
      },
      [
        { resource: "crm", userId: "bob" },
        { resource: "crm", userId: "alice" },
      ],
    );
    expect(outputs).toHaveLength(1);
    expect(outputs[0]?.map((o) => (o.json.guardrails as { allowed: boolean }).allowed)).toEqual([
      false,
      true,
    ]);
  });

  it("an approved confirmation token lets the same call through once", async () => {
    const context = { operation: "delete", id: 42 };
    const first = await authorize({ policyId: "safe_delete", contextJson: context });
    const token = confirmationTokenOf(first.outputs);

    const approved = await runNode({
      params: { operation: "approve", approvalToken: token, reason: "ticket 42", approver: "lead" },
      credentials: creds(),
    });
    expect(approved.outputs).toHaveLength(1);
    expect(approved.sent[0]?.body).toEqual({ reason: "ticket 42", by: "lead" });
    expect(approved.outputs[0]?.[0]?.json).toMatchObject({ status: "approved" });

    const retried = await authorize({
      policyId: "safe_delete",
      contextJson: context,
      confirmationToken: token,
    });
    expect(retried.sent[0]?.headers["x-confirmation-token"]).toBe(token);
    expect(retried.outputs[0]?.[0]?.json.guardrails).toMatchObject({ allowed: true });

    const again = await authorize({
      policyId: "safe_delete",
      contextJson: context,
      confirmationToken: token,
    });
    expect(again.outputs[0]).toEqual([]);
    expect(again.outputs[1]?.[0]?.json.guardrails).toMatchObject({
      allowed: false,
      action: "require_confirmation",
    });
  });

  it("a denied confirmation never lets the call through", async () => {
    const context = { operation: "delete", id: 43 };
    const first = await authorize({ policyId: "safe_delete", contextJson: context });
    const token = confirmationTokenOf(first.outputs);
    const denied = await runNode({
      params: { operation: "deny", approvalToken: token, reason: "not today" },
      credentials: creds(),
    });
    expect(denied.outputs[0]?.[0]?.json).toMatchObject({ status: "denied" });
    const retried = await authorize({
      policyId: "safe_delete",
      contextJson: context,
      confirmationToken: token,
    });
    expect(retried.outputs[0]).toEqual([]);
    // Answering twice is a 409 from the server, thrown as a NodeApiError.
    const twice = runNode({
      params: { operation: "approve", approvalToken: token, approver: "lead" },
      credentials: creds(),
    });
    await expect(twice).rejects.toBeInstanceOf(NodeApiError);
    await expect(twice).rejects.toMatchObject({ httpCode: "409" });
  });
});

describe("Report provider call", () => {
  it("counts the spend, and the budget then refuses", async () => {
    const ask = () =>
      authorize({
        policyId: "anthropic_budget",
        contextJson: { resource: "anthropic", cost: 0.1 },
      });
    expect((await ask()).outputs[0]).toHaveLength(1);

    const report = await runNode({
      params: {
        operation: "reportProviderCall",
        resource: "anthropic",
        model: "claude-haiku",
        tokensIn: 1200,
        tokensOut: 300,
        costUsd: 1.25,
        additionalFields: { action: "chat", metadata: '{"workflow":"n8n-test"}' },
      },
      credentials: creds(),
      items: [{ prompt: "hi" }],
    });
    expect(report.sent[0]?.body).toEqual({
      resource: "anthropic",
      model: "claude-haiku",
      tokens_in: 1200,
      tokens_out: 300,
      cost_usd: 1.25,
      action: "chat",
      metadata: { workflow: "n8n-test" },
    });
    expect(report.outputs).toHaveLength(1);
    expect(report.outputs[0]?.[0]?.json).toMatchObject({
      recorded: true,
      resource: "anthropic",
      settled: [{ policyId: "anthropic_budget", spentUsd: 1.25 }],
    });
    expect(report.outputs[0]?.[0]?.pairedItem).toEqual({ item: 0 });

    const after = await ask();
    expect(after.outputs[0]).toEqual([]);
    expect(after.outputs[1]?.[0]?.json.guardrails).toMatchObject({ allowed: false });
  });
});

describe("the example workflow", () => {
  it("guard-openai-call.json: allowed, then the call's spend reported", async () => {
    const workflow = JSON.parse(
      readFileSync(new URL("../examples/guard-openai-call.json", import.meta.url), "utf8"),
    ) as { nodes: Array<{ name: string; parameters: Record<string, unknown> }> };
    const paramsOf = (name: string, json: Record<string, unknown>) => {
      const node = workflow.nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node ${name}`);
      // n8n evaluates "={{ … }}" against the item; these expressions only read $json.
      const resolve = (v: unknown): unknown =>
        typeof v === "string" && v.startsWith("={{")
          ? (new Function("$json", `return (${v.slice(3, -2)});`) as (j: unknown) => unknown)(json)
          : isPlainObject(v)
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]))
            : v;
      return resolve(node.parameters) as Record<string, unknown>;
    };
    const request = JSON.parse(String(paramsOf("Request", {}).jsonOutput)) as IDataObject;

    const gate = await runNode({
      params: paramsOf("Authorize", request),
      credentials: creds(),
      items: [request],
    });
    expect(gate.sent[0]?.body).toEqual({
      policyId: "openai_budget",
      context: { resource: "openai", model: "gpt-4o-mini", userId: "alice", cost: 0.002 },
    });
    expect(gate.outputs[0]?.[0]?.json.guardrails).toMatchObject({ allowed: true });

    // What OpenAI's chat completion answers, as the HTTP Request node passes it on.
    const completion = {
      model: "gpt-4o-mini",
      usage: { prompt_tokens: 1000, completion_tokens: 500 },
    };
    const report = await runNode({
      params: paramsOf("Report spend", completion),
      credentials: creds(),
      items: [completion],
    });
    expect(report.sent[0]?.body).toEqual({
      resource: "openai",
      model: "gpt-4o-mini",
      tokens_in: 1000,
      tokens_out: 500,
      cost_usd: 0.00045,
      action: "chat",
    });
    expect(report.outputs[0]?.[0]?.json).toMatchObject({
      recorded: true,
      settled: [{ policyId: "openai_budget", spentUsd: 0.00045, tokens: 1500 }],
    });
  });
});

describe("errors", () => {
  it("a server that is down throws a NodeApiError; with continueOnFail the item goes to Denied", async () => {
    const url = await deadUrl();
    const spec: RunSpec = {
      params: {
        operation: "authorize",
        outputMode: "route",
        policyId: "team_only",
        contextJson: {},
      },
      credentials: { url, token: TOKEN },
    };
    const run = runNode(spec);
    await expect(run).rejects.toBeInstanceOf(NodeApiError);
    await expect(run).rejects.toThrow(`Could not reach the decision server at ${url}: `);
    await expect(run).rejects.toThrow(/refused the connection|ECONNREFUSED/);

    const { outputs } = await runNode({ ...spec, continueOnFail: true, items: [{ n: 1 }] });
    expect(outputs[0]).toEqual([]);
    expect(outputs[1]?.[0]?.json).toMatchObject({ n: 1 });
    expect(String(outputs[1]?.[0]?.json.error)).toContain("Could not reach the decision server");
    expect(outputs[1]?.[0]?.json.guardrails).toMatchObject({ allowed: false, action: "error" });
  });

  it("a failed item never keeps a stale decision from its input (Continue and Route)", async () => {
    const stale = { n: 1, guardrails: { allowed: true, action: "allow" } };
    const params = { policyId: "no_such_policy", contextJson: {} };
    const cont = await authorize({ ...params, outputMode: "continue" }, [stale], {
      continueOnFail: true,
    });
    expect(cont.outputs).toHaveLength(1);
    expect(cont.outputs[0]?.[0]?.json).toMatchObject({
      n: 1,
      guardrails: { allowed: false, action: "error" },
      errorDetails: { httpCode: "404" },
    });
    const routed = await authorize(params, [stale], { continueOnFail: true });
    expect(routed.outputs[0]).toEqual([]);
    expect(routed.outputs[1]?.[0]?.json.guardrails).toMatchObject({ allowed: false });
    // A custom decision field is the one overwritten.
    const custom = await authorize(
      { ...params, outputMode: "continue", options: { decisionField: "gate" } },
      [{ gate: { allowed: true } }],
      { continueOnFail: true },
    );
    expect(custom.outputs[0]?.[0]?.json.gate).toMatchObject({ allowed: false, action: "error" });
  });

  it("never follows a redirect: a 3xx is an error and the target gets nothing", async () => {
    let targetHits = 0;
    const target = createHttpServer((_, res) => {
      targetHits++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ allowed: true, action: "allow", decision: "ALLOW" }));
    });
    await new Promise<void>((done) => target.listen(0, "127.0.0.1", done));
    const { port: targetPort } = target.address() as { port: number };
    const redirector = createHttpServer((_, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${targetPort}/authorize` });
      res.end();
    });
    await new Promise<void>((done) => redirector.listen(0, "127.0.0.1", done));
    try {
      const { port } = redirector.address() as { port: number };
      const spec: RunSpec = {
        params: {
          operation: "authorize",
          outputMode: "route",
          policyId: "team_only",
          contextJson: {},
          confirmationToken: "tok",
        },
        credentials: { url: `http://127.0.0.1:${port}`, token: TOKEN },
      };
      const run = runNode(spec);
      await expect(run).rejects.toBeInstanceOf(NodeApiError);
      await expect(run).rejects.toMatchObject({ httpCode: "307" });
      await expect(run).rejects.toThrow(/redirect/);
      const { outputs } = await runNode({ ...spec, continueOnFail: true });
      expect(outputs[0]).toEqual([]);
      expect(outputs[1]?.[0]?.json.guardrails).toMatchObject({ allowed: false });
      expect(targetHits).toBe(0);
    } finally {
      await new Promise((done) => redirector.close(done));
      await new Promise((done) => target.close(done));
    }
  });

  it("an allow needs the action allow or warn: anything else is no decision", async () => {
    const answers: unknown[] = [
      { allowed: true, action: "block" },
      { allowed: true, action: "require_confirmation" },
      { allowed: true },
      { allowed: "true", action: "allow" },
    ];
    let next = 0;
    const odd = createHttpServer((_, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answers[next++]));
    });
    await new Promise<void>((done) => odd.listen(0, "127.0.0.1", done));
    try {
      const { port } = odd.address() as { port: number };
      for (const _ of answers) {
        const { outputs } = await runNode({
          params: { operation: "authorize", outputMode: "route", policyId: "p", contextJson: {} },
          credentials: { url: `http://127.0.0.1:${port}`, token: TOKEN },
          continueOnFail: true,
        });
        expect(outputs[0]).toEqual([]);
        expect(outputs[1]?.[0]?.json.guardrails).toMatchObject({ allowed: false, action: "error" });
      }
    } finally {
      await new Promise((done) => odd.close(done));
    }
  });

  it("never shows the Server URL's user and password in an error", async () => {
    const url = (await deadUrl()).replace("http://", "http://someone:s3cret-pw@");
    const run = runNode({
      params: {
        operation: "authorize",
        outputMode: "route",
        policyId: "team_only",
        contextJson: {},
      },
      credentials: { url, token: TOKEN },
    });
    await expect(run).rejects.toBeInstanceOf(NodeApiError);
    const error = (await run.catch((e: unknown) => e)) as NodeApiError;
    expect(error.message).toContain("Could not reach the decision server at http://127.0.0.1:");
    expect(`${error.message} ${error.description ?? ""}`).not.toContain("s3cret-pw");
    expect(error.message).not.toContain("someone");
  });

  it("a wrong token is a 403 NodeApiError naming the credential, or an error item", async () => {
    const spec: RunSpec = {
      params: {
        operation: "authorize",
        outputMode: "route",
        policyId: "team_only",
        contextJson: {},
      },
      credentials: { url: server.url, token: "not-the-token" },
    };
    const run = runNode(spec);
    await expect(run).rejects.toBeInstanceOf(NodeApiError);
    await expect(run).rejects.toMatchObject({ httpCode: "403" });
    await expect(run).rejects.toThrow(/refused the token \(403 forbidden\)/);

    const cont = await runNode({
      ...spec,
      continueOnFail: true,
      params: { ...spec.params, outputMode: "continue" },
    });
    expect(cont.outputs).toHaveLength(1);
    expect(cont.outputs[0]?.[0]?.json).toMatchObject({
      error: expect.stringContaining("refused the token"),
      errorDetails: { httpCode: "403", code: "forbidden" },
    });
  });

  it("an unknown policy is a 404 NodeApiError; an empty policy id a NodeOperationError", async () => {
    const unknown = authorize({ policyId: "no_such_policy", contextJson: {} });
    await expect(unknown).rejects.toBeInstanceOf(NodeApiError);
    await expect(unknown).rejects.toMatchObject({ httpCode: "404" });
    await expect(unknown).rejects.toThrow(/unknown_policy/);

    await expect(authorize({ policyId: " ", contextJson: {} })).rejects.toBeInstanceOf(
      NodeOperationError,
    );
    await expect(authorize({ policyId: "team_only", contextJson: "[1, 2]" })).rejects.toThrow(
      "Context (JSON) must be a JSON object",
    );
  });

  it("an answer without a decision is an error, never an allow", async () => {
    // Something else listening where the server should be (a proxy's 200 page, say).
    const impostor = createHttpServer((_, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "ok" }));
    });
    await new Promise<void>((done) => impostor.listen(0, "127.0.0.1", done));
    try {
      const { port } = impostor.address() as { port: number };
      const spec: RunSpec = {
        params: {
          operation: "authorize",
          outputMode: "route",
          policyId: "team_only",
          contextJson: {},
        },
        credentials: { url: `http://127.0.0.1:${port}`, token: TOKEN },
      };
      await expect(runNode(spec)).rejects.toThrow("has no decision");
      const { outputs } = await runNode({ ...spec, continueOnFail: true });
      expect(outputs[0]).toEqual([]);
      expect(outputs[1]?.[0]?.json.error).toContain("has no decision");
    } finally {
      await new Promise((done) => impostor.close(done));
    }
  });

  it("with continueOnFail only the failing item carries the error", async () => {
    const { outputs } = await authorize(
      {
        policyId: (i: number) => ["team_only", "no_such_policy"][i],
        contextJson: { resource: "crm", userId: "alice" },
      },
      [{ n: 0 }, { n: 1 }],
      { continueOnFail: true },
    );
    expect(outputs[0]?.map((o) => o.json.n)).toEqual([0]);
    expect(outputs[1]?.map((o) => o.json.n)).toEqual([1]);
    expect(outputs[1]?.[0]?.json).toMatchObject({
      errorDetails: { httpCode: "404", code: "unknown_policy" },
    });
  });
});

describe("the credential", () => {
  it("its test request (GET /whoami) passes with the token and fails with another", async () => {
    const good = await testCredential(creds());
    expect(good.statusCode).toBe(200);
    expect(good.body).toMatchObject({ kind: expect.any(String) });
    const bad = await testCredential({ url: server.url, token: "wrong" });
    expect(bad.statusCode).toBe(403);
  });
});
