/**
 * Generated-input fuzzing of the decision server: every route of its own `/openapi.json`
 * gets valid, boundary and malformed requests (bodies, queries, path parameters, content
 * types, invalid JSON, deep nesting, oversize bodies), each without credentials, with a
 * wrong token, with the static token and with API keys. No answer may be a 5xx, every
 * answer but the few non-JSON routes is JSON (errors in the one error shape), nothing may
 * crash, and the audit log's hash chain must still verify at the end.
 *
 * Deterministic: each route's inputs come from fast-check with a seed fixed per route.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { FastifyInstance, HTTPMethods, InjectOptions, LightMyRequestResponse } from "fastify";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  DecisionLogger,
  PostgresAuditStore,
  SqliteApiKeyStore,
  SqliteApiPolicyStore,
  SqliteAuditStore,
  SqliteConfirmationStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
import {
  anyJson,
  anyString,
  boundaryOf,
  type Hints,
  invalidOf,
  type JsonSchema,
  validOf,
} from "../support/json-schema-arbitrary.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const TOKEN = "fuzz-token-0123456789abcdef";
const SEED = 20_260_115;
/** Inputs of each kind per route (each sent once per credential). */
const RUNS = { valid: 20, boundary: 12, malformed: 20 } as const;

const YAML = `
policies:
  - id: open
    rules: [{ resource: "*", action: allow }]
  - id: limited
    rules: [{ resource: "*", requests_per_minute: 1000000, per: userId, action: block }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: llm_budget
    rules: [{ resource: openai, daily_budget: 1000000, action: block }]
  - id: conditional
    rules:
      - when:
          - { field: user.tier, operator: in, value: [free, trial] }
          - any:
              - { field: amount, op: gt, value: 1000 }
              - not: { field: user.verified, operator: equals, value: true }
        action: block
      - resource: "*"
        action: allow
`;
const YAML_IDS = ["open", "limited", "safe_delete", "llm_budget", "conditional"];

const dir = mkdtempSync(join(tmpdir(), "hexarch-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One OpenAPI operation, as far as the fuzzer reads it. */
interface Operation {
  readonly method: string;
  readonly path: string;
  readonly pathParams: readonly { name: string; schema: JsonSchema }[];
  readonly query: JsonSchema | undefined;
  readonly body: JsonSchema | undefined;
  readonly bodyRequired: boolean;
}

interface OpenApiParameter {
  readonly in: string;
  readonly name: string;
  readonly required?: boolean;
  readonly schema: JsonSchema;
}

/** Every operation of the document, with its parameters gathered into schemas. */
function operationsOf(doc: {
  paths: Record<string, Record<string, Record<string, unknown>>>;
}): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      // A stream (GET /events/stream) never ends, so it is no request to fuzz: its own
      // tests cover it (test/server/events-stream.test.ts).
      const ok = (op.responses as Record<string, { content?: object }> | undefined)?.["200"];
      if (ok?.content && "text/event-stream" in ok.content) continue;
      const params = (op.parameters ?? []) as OpenApiParameter[];
      const queryParams = params.filter((p) => p.in === "query");
      const requestBody = op.requestBody as
        | { required?: boolean; content: Record<string, { schema: JsonSchema }> }
        | undefined;
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path"),
        query:
          queryParams.length > 0
            ? {
                type: "object",
                additionalProperties: false,
                properties: Object.fromEntries(queryParams.map((p) => [p.name, p.schema])),
                required: queryParams.filter((p) => p.required).map((p) => p.name),
              }
            : undefined,
        body: requestBody?.content["application/json"]?.schema,
        bodyRequired: requestBody?.required === true,
      });
    }
  }
  return ops;
}

/** A request before credentials are added. */
interface Probe {
  readonly kind: "valid" | "boundary" | "malformed";
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly payload?: string | Buffer;
}

/** A stable seed per operation, so adding a route does not change the others' inputs. */
function seedOf(text: string): number {
  let h = SEED;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  return h;
}

/** A path segment in URL form (lone surrogates cannot be; \`badParams\` sends invalid UTF-8). */
const encode = (s: string) => encodeURIComponent(Buffer.from(s).toString());

/** A query string from generated values (arrays repeat the key, as clients do). */
function queryString(values: Record<string, unknown>): string {
  const q = new URLSearchParams();
  const text = (v: unknown) =>
    typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  for (const [k, v] of Object.entries(values)) {
    if (Array.isArray(v)) for (const item of v) q.append(k, text(item));
    else q.append(k, text(v));
  }
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/** Malformed query strings, as raw text. */
const badQueries = fc.constantFrom(
  "?limit=abc",
  "?limit=-1",
  "?limit=1e3",
  "?limit=99999999999999999999999",
  "?limit=1&limit=2",
  "?offset=-5",
  "?offset=1.5",
  "?top=NaN",
  "?timeframe=forever",
  "?timeframe=999999999999d",
  "?since=not-a-date",
  "?since=-1h",
  "?until=9999999999999999999y",
  "?since=2026-02-30",
  "?decision=maybe",
  "?unknown=1",
  "?%zz=1",
  "?limit=%zz",
  "?__proto__[x]=1",
  "?constructor=1",
  "?=",
  "?&&&",
  `?policy_id=${"p".repeat(5000)}`,
  `?resource=${"%F0%9F%98%80".repeat(300)}`,
);

/** Malformed path parameter values, already in URL form. */
const badParams = fc.constantFrom(
  "",
  "%zz",
  "%",
  "%00",
  "%2F",
  "..",
  "%2e%2e",
  "a%20b",
  "%F0%9F%98%80",
  "%ED%A0%80",
  "x".repeat(257),
  "y".repeat(5000),
  "__proto__",
  "constructor",
  "a.b.c",
  "hxk_",
  "~",
);

/** Bodies that are not the JSON they claim to be, with their content types. */
const badBodies: fc.Arbitrary<{ payload: string | Buffer; type: string | undefined }> = fc.oneof(
  fc.record({
    payload: fc.constantFrom(
      "",
      "{",
      "}",
      '{"a":',
      "{'a':1}",
      '{"a":1,}',
      "[1,2,]",
      "NaN",
      "undefined",
      "{a:1}",
      '{"a":1}{"b":2}',
      "\ufeff{}",
      "null",
      "true",
      "0",
      '"string"',
      "[]",
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"context":{"__proto__":{"admin":true}}}',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '{"a":1e999}',
      '{"a":-0}',
      '{"a":"\\x41"}',
      `{"a":${"1".repeat(400)}}`,
    ),
    type: fc.constant("application/json"),
  }),
  fc.record({
    payload: fc.constantFrom('{"message":"x"}', "message=x", "--b\r\n\r\n--b--", "x"),
    type: fc.constantFrom(
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=b",
      "application/xml",
      "application/octet-stream",
      "application/json; charset=latin1",
      "application/json; charset=utf-16",
      "application/jsonx",
      "application/vnd.api+json",
      "APPLICATION/JSON",
      "application/json;;;",
      "json",
      "",
      ";",
      "application/json\u0000",
    ),
  }),
  fc.record({
    payload: fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((bytes) => Buffer.from([0x7b, ...bytes, 0xff, 0xfe])),
    type: fc.constant("application/json"),
  }),
  fc.record({ payload: fc.constant('{"message":"x"}'), type: fc.constant(undefined) }),
  fc.integer({ min: 33, max: 20_000 }).map((depth) => ({
    payload: `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
    type: "application/json",
  })),
  fc.integer({ min: 33, max: 100_000 }).map((depth) => ({
    payload: `${"[".repeat(depth)}${"]".repeat(depth)}`,
    type: "application/json",
  })),
);

/** Bodies over the 1 MiB limit (a few per route: they are slow to send). */
const oversize = [
  { payload: JSON.stringify({ message: "x".repeat(1024 * 1024) }), type: "application/json" },
  { payload: "x".repeat(1024 * 1024 + 1), type: "text/plain" },
];

/** Request headers beyond credentials: identity claims and request ids, good and bad. */
const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    "x-actor-id": fc.constantFrom("alice", "", "a b", "x".repeat(200), "bob@example.com", "é"),
    "x-user-id": fc.constantFrom("alice", "u-1", "", "../x", "x".repeat(129)),
    "x-org-id": fc.constantFrom("acme", "", "a\tb"),
    "x-team-id": fc.constantFrom("red", "!"),
    "x-actor-type": fc.constantFrom("user", "service", " "),
    "x-request-id": fc.constantFrom("req-1", "", "x".repeat(500), "a\u0001b"),
  },
  { requiredKeys: [] },
);

/** An HTTP method the route does not have. */
const OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];

/** The probes of one operation: valid, boundary and malformed inputs. */
function probesOf(op: Operation, hints: Hints, pools: Record<string, string[]>): Probe[] {
  const seed = seedOf(`${op.method} ${op.path}`);
  const param = (name: string, schema: JsonSchema, mode: "valid" | "boundary") => {
    const pool = pools[`${op.path}:${name}`] ?? [];
    const generated = (mode === "valid" ? validOf(schema) : boundaryOf(schema)).map((v) =>
      encode(String(v)),
    );
    return pool.length > 0
      ? fc.oneof(
          { arbitrary: fc.constantFrom(...pool.map(encode)), weight: 3 },
          { arbitrary: generated, weight: 1 },
        )
      : generated;
  };
  const urlOf = (mode: "valid" | "boundary" | "malformed") => {
    const params: Record<string, fc.Arbitrary<string>> = {};
    for (const p of op.pathParams)
      params[p.name] =
        mode === "malformed"
          ? fc.oneof(param(p.name, p.schema, "valid"), badParams)
          : param(p.name, p.schema, mode);
    const query = op.query
      ? mode === "valid"
        ? validOf(op.query).map((v) => queryString(v as Record<string, unknown>))
        : mode === "boundary"
          ? boundaryOf(op.query).map((v) => queryString(v as Record<string, unknown>))
          : fc.oneof(
              invalidOf(op.query).map((v) =>
                typeof v === "object" && v !== null && !Array.isArray(v)
                  ? queryString(v as Record<string, unknown>)
                  : `?q=${encode(JSON.stringify(v) ?? "")}`,
              ),
              badQueries,
            )
      : mode === "malformed"
        ? badQueries
        : fc.constant("");
    return fc
      .tuple(fc.record(params), query)
      .map(
        ([values, q]) =>
          op.path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? "") + q,
      );
  };
  const jsonBody = (value: unknown) => ({
    payload: JSON.stringify(value),
    type: "application/json" as string | undefined,
  });
  const bodyOf = (
    mode: "valid" | "boundary" | "malformed",
  ): fc.Arbitrary<{ payload: string | Buffer; type: string | undefined } | undefined> => {
    if (!op.body) {
      // Routes without a body: none, or (malformed) one they do not expect.
      return mode === "malformed"
        ? fc.oneof(badBodies, anyJson.map(jsonBody))
        : fc.constant(undefined);
    }
    if (mode === "valid") {
      const body = validOf(op.body, hints).map(jsonBody);
      return op.bodyRequired ? body : fc.oneof(body, fc.constant(undefined));
    }
    if (mode === "boundary") return boundaryOf(op.body, hints).map(jsonBody);
    return fc.oneof(
      { arbitrary: invalidOf(op.body, hints).map(jsonBody), weight: 3 },
      { arbitrary: badBodies, weight: 2 },
      { arbitrary: anyJson.map(jsonBody), weight: 1 },
    );
  };
  const probes: Probe[] = [];
  for (const kind of ["valid", "boundary", "malformed"] as const) {
    const arb = fc.record({
      url: urlOf(kind),
      body: bodyOf(kind),
      headers: kind === "valid" ? fc.constant({}) : extraHeaders,
      method:
        kind === "malformed"
          ? fc.oneof(
              { arbitrary: fc.constant(op.method), weight: 5 },
              { arbitrary: fc.constantFrom(...OTHER_METHODS), weight: 1 },
            )
          : fc.constant(op.method),
    });
    for (const s of fc.sample(arb, { seed: seed + kind.length, numRuns: RUNS[kind] })) {
      const headers: Record<string, string> = { ...s.headers };
      if (s.body?.type !== undefined) headers["content-type"] = s.body.type;
      probes.push({
        kind,
        method: s.method,
        url: s.url,
        headers,
        ...(s.body !== undefined && { payload: s.body.payload }),
      });
    }
  }
  if (op.body) {
    for (const big of oversize)
      probes.push({
        kind: "malformed",
        method: op.method,
        url: op.path.replace(/\{(\w+)\}/g, "x"),
        headers: { "content-type": big.type },
        payload: big.payload,
      });
    probes.push({
      kind: "malformed",
      method: op.method,
      url: op.path.replace(/\{(\w+)\}/g, "x"),
      headers: { "content-type": "application/json", "content-length": "5" },
      payload: '{"message":"longer than five"}',
    });
  }
  return probes;
}

/** The items in an order fixed by the seed (Fisher–Yates over mulberry32). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let state = SEED;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Routes whose answers are not JSON. */
const NOT_JSON = /^\/(metrics|docs|audit-logs\/export)(\/|$|\?)/;

/** What is wrong with an answer, or `undefined` when it is fine. */
function problemWith(res: LightMyRequestResponse, method: string, url: string): string | undefined {
  if (res.statusCode >= 500) return `status ${res.statusCode}`;
  if (method === "HEAD" || res.statusCode === 204 || res.statusCode === 304) return undefined;
  if (res.statusCode >= 300 && res.statusCode < 400) return undefined;
  if (NOT_JSON.test(url) && res.statusCode < 400) return undefined;
  const type = String(res.headers["content-type"] ?? "");
  if (!type.startsWith("application/json")) return `content-type ${type || "(none)"}`;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return "a body that is not JSON";
  }
  if (res.statusCode >= 400) {
    const e = body as Record<string, unknown>;
    if (
      e.statusCode !== res.statusCode ||
      typeof e.code !== "string" ||
      !/^[a-z_]+$/.test(e.code) ||
      typeof e.message !== "string" ||
      e.message === "" ||
      typeof e.requestId !== "string" ||
      e.requestId !== res.headers["x-request-id"]
    )
      return `an error body out of shape: ${res.body.slice(0, 200)}`;
  }
  return undefined;
}

describe("fuzzing every route of /openapi.json", () => {
  it("answers generated requests below 500, in JSON, and keeps the audit chain intact", async () => {
    const started = performance.now();
    const path = join(dir, "decisions.db");
    const apiKeys = new SqliteApiKeyStore(path);
    const apiPolicies = new SqliteApiPolicyStore(path);
    const confirmations = new SqliteConfirmationStore(path);
    const logger = new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false });
    const makeGuardian = () =>
      new Guardian({ env: {}, policies: YAML, confirmations, onWarn: () => {} });
    const errorLines: string[] = [];
    const app: FastifyInstance = await createServer({
      guardian: makeGuardian(),
      auditLogger: logger,
      confirmations,
      apiToken: TOKEN,
      apiKeys,
      apiKeyAdmin: true,
      apiPolicies,
      reloadPolicies: makeGuardian,
      docs: true,
      corsOrigins: ["https://app.example"],
      rateLimit: { max: 1_000_000_000, maxPerIp: 1_000_000_000 },
      metrics: { public: false },
      logger: {
        level: "warn",
        stream: {
          write: (line: string) => {
            if ((JSON.parse(line) as { level: number }).level >= 50) errorLines.push(line);
          },
        },
      },
    });
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    try {
      const admin = { authorization: `Bearer ${TOKEN}` };
      const send = (o: InjectOptions) => app.inject(o);
      // Things to find: keys, rules, policies and confirmation requests that exist.
      const key = async (name: string, scopes: string[]) => {
        const res = await send({
          method: "POST",
          url: "/api-keys",
          headers: admin,
          payload: { name, scopes },
        });
        expect(res.statusCode).toBe(201);
        return res.json() as { id: string; key: string };
      };
      const starKey = await key("fuzz-star", ["*"]);
      const readKey = await key("fuzz-read", ["read"]);
      const victims = [await key("victim-1", ["read"]), await key("victim-2", ["write"])];
      const ruleIds: string[] = [];
      for (const condition of [
        { field: "input.context.risk", operator: "less_than", value: 50 },
        {
          all: [
            { field: "identity.user_id", op: "eq", value: "alice" },
            { "input.action": "read" },
          ],
        },
        { not: { field: "input.resource.kind", operator: "in", value: ["secret"] } },
      ]) {
        const res = await send({
          method: "POST",
          url: "/rules",
          headers: admin,
          payload: { name: `r${ruleIds.length}`, rule_type: "CONDITION", condition },
        });
        expect(res.statusCode).toBe(200);
        ruleIds.push((res.json() as { id: string }).id);
      }
      const policyIds: string[] = [];
      for (const [scope, scope_value, failure_mode] of [
        ["GLOBAL", null, "FAIL_CLOSED"],
        ["USER", "alice", "FAIL_OPEN"],
        ["ORGANIZATION", "acme", "FAIL_CLOSED"],
      ] as const) {
        const res = await send({
          method: "POST",
          url: "/policies",
          headers: admin,
          payload: { name: `p-${scope}`, scope, scope_value, failure_mode, rule_ids: ruleIds },
        });
        expect(res.statusCode).toBe(200);
        policyIds.push((res.json() as { id: string }).id);
      }
      const tokens: string[] = [];
      for (let i = 0; i < 30; i++)
        tokens.push(
          await confirmations.create({
            policyId: "safe_delete",
            fingerprint: `f${i}`,
            requestedBy: "fuzz",
            reason: "fuzzing",
            operation: "delete",
            metadata: { i },
          }),
        );

      const docRes = await send({ method: "GET", url: "/openapi.json" });
      expect(docRes.statusCode).toBe(200);
      const ops = operationsOf(docRes.json());
      expect(ops.length).toBeGreaterThanOrEqual(30);

      const context = fc.record(
        {
          userId: fc.constantFrom("alice", "bob", "", "x".repeat(300)),
          user_id: fc.constantFrom("carol", 7),
          resource: fc.constantFrom("openai", "db", "*", ""),
          operation: fc.constantFrom("delete", "read", "write"),
          functionName: anyString(20),
          amount: fc.oneof(fc.double({ noNaN: true }), fc.constantFrom("1000", null, [], {})),
          cost: fc.constantFrom(0, 0.5, -1, 1e308, "5", null),
          user: fc.record(
            {
              tier: fc.constantFrom("free", "trial", "pro", 1),
              verified: fc.constantFrom(true, false, "true"),
            },
            { requiredKeys: [] },
          ),
          confirmationToken: fc.constantFrom(...tokens, "bogus", ""),
          risk: fc.integer({ min: -10, max: 100 }),
        },
        { requiredKeys: [] },
      );
      const condition: fc.Arbitrary<unknown> = fc.letrec<{ c: unknown }>((tie) => ({
        c: fc.oneof(
          { depthSize: "small" },
          fc.record({
            field: fc.constantFrom("input.context.risk", "identity.user_id", "a..b", "", "x[0]"),
            operator: fc.constantFrom(
              "equals",
              "in",
              "between",
              "matches",
              "greater_than",
              "exists",
              "gt",
              "nope",
              "__proto__",
            ),
            value: fc.oneof(anyJson, fc.constantFrom("(a+)+$", "[", [1], [1, 2, 3], [2, 1])),
          }),
          fc.record({ all: fc.array(tie("c"), { maxLength: 3 }) }),
          fc.record({ any: fc.oneof(fc.array(tie("c"), { maxLength: 3 }), anyJson) }),
          fc.record({ not: tie("c") }),
          fc.dictionary(fc.constantFrom("input.action", "env", "x"), anyJson, { maxKeys: 2 }),
        ),
      })).c;
      const hints: Hints = {
        policyId: fc.constantFrom(...YAML_IDS),
        context,
        resource: fc.constantFrom("openai", "db", { kind: "secret" }, { kind: "doc" }),
        condition,
        scope: fc.constantFrom("GLOBAL", "ORGANIZATION", "TEAM", "USER", "global", "NONE"),
        failure_mode: fc.constantFrom("FAIL_CLOSED", "FAIL_OPEN", "fail_open"),
        rule_ids: fc.array(fc.constantFrom(...ruleIds, "missing"), { maxLength: 4 }),
        scopes: fc.constantFrom(["read"], ["write"], ["*"], ["admin", "read"]),
        by: fc.constantFrom("alice", "api-token"),
      };
      const pools: Record<string, string[]> = {
        "/audit/stats/{policyId}:policyId": [...YAML_IDS, "hexarch:api-key"],
        "/audit/users/{userId}/trail:userId": ["alice", "bob", "carol"],
        "/approvals/{token}:token": tokens,
        "/approvals/{token}/approve:token": tokens,
        "/approvals/{token}/deny:token": tokens,
        "/rules/{id}:id": ruleIds,
        "/policies/{id}:id": [...policyIds, ...YAML_IDS],
        "/api-keys/{id}:id": victims.map((v) => v.id),
        "/api-keys/{id}/revoke:id": victims.map((v) => v.id),
      };

      const credentials: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-token-0123456789" },
        { authorization: `Bearer hxk_${"A".repeat(43)}` },
        admin,
        { authorization: `Bearer ${starKey.key}` },
        { authorization: `Bearer ${readKey.key}` },
      ];
      const problems = new Map<string, string>();
      const statuses = new Map<number, number>();
      let sent = 0;
      // Every operation's probes, interleaved (in a fixed order), so what one request
      // changes (a rule replaced, a key revoked, a request approved) meets the others.
      const queue = shuffled(
        ops.flatMap((op) => probesOf(op, hints, pools).map((p) => ({ op, p }))),
      );
      for (const [n, { op, p: probe }] of queue.entries()) {
        // Valid inputs go with every credential; the others with the two that reach the
        // route and one of the four that are refused (or limited) before the body is read.
        const picked =
          probe.kind === "valid"
            ? credentials
            : [credentials[3], credentials[4], credentials[n % 3 === 2 ? 5 : n % 3]];
        for (const auth of picked) {
          const i = credentials.indexOf(auth as Record<string, string>);
          const res = await send({
            method: probe.method as HTTPMethods,
            url: probe.url,
            headers: { ...probe.headers, ...auth },
            ...(probe.payload !== undefined && { payload: probe.payload }),
          });
          sent++;
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          const problem = problemWith(res, probe.method, probe.url);
          if (problem) {
            // One example of each kind of problem per operation is enough to read.
            const kind = `${problem.split(":")[0]} on ${probe.method} ${op.path}`;
            if (!problems.has(kind))
              problems.set(
                kind,
                `${problem}: ${probe.method} ${probe.url.slice(0, 120)} [${probe.kind}, credential ${i}] ` +
                  `${String(probe.payload ?? "").slice(0, 160)} -> ${res.body.slice(0, 200)}`,
              );
          }
        }
      }

      // The server still serves, and its audit log still verifies.
      await logger.flush();
      const health = await send({ method: "GET", url: "/health" });
      expect(health.statusCode).toBe(200);
      const verify = await send({ method: "GET", url: "/audit-logs/verify", headers: admin });
      expect(verify.statusCode).toBe(200);
      const chain = verify.json() as { ok: boolean; checked: number };
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(
        `server fuzz: ${sent} requests to ${ops.length} operations in ${seconds} s; ` +
          `statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ` +
          `audit chain ok=${chain.ok}, ${chain.checked} records`,
      );
      expect([...problems.values()]).toEqual([]);
      expect(errorLines.slice(0, 5)).toEqual([]);
      expect(crashes).toEqual([]);
      expect(chain.ok).toBe(true);
      expect(chain.checked).toBeGreaterThan(100);
      expect(sent).toBeGreaterThan(5000);
    } finally {
      process.off("uncaughtException", onCrash);
      process.off("unhandledRejection", onCrash);
      await app.close();
      await logger.close();
      await apiPolicies.close();
      await apiKeys.close();
      await confirmations.close();
    }
  }, 120_000);
});

// Found by the fuzzer: a lone surrogate in a text column (user id, function name, a
// provider's resource) was hashed as written but read back as U+FFFD, so the chain no
// longer verified; a NUL made PostgreSQL refuse the insert (a 503 from input).
const pgUp = await pgReachable("the PostgreSQL case of the unstorable-text regression test");

describe.each([
  ["SQLite", true],
  ["PostgreSQL", pgUp],
] as const)("text the audit store cannot keep as sent (%s)", (backend, available) => {
  it.skipIf(!available)("is recorded as U+FFFD, answered 200, and the chain verifies", async () => {
    const schema = `hexarch_fuzz_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const store =
      backend === "SQLite"
        ? new SqliteAuditStore(join(dir, `${schema}.db`))
        : new PostgresAuditStore(PG_URL, { schema });
    // Durable: a record the store refuses would be a 503.
    const logger = new DecisionLogger(store, { exitHooks: false, durable: true });
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: YAML, onWarn: () => {} }),
      auditLogger: logger,
      apiToken: TOKEN,
      logger: false,
    });
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    try {
      const payloads = [
        [
          "/authorize",
          '{"policyId":"open","context":{"userId":"a\\ud800b","functionName":"f\\u0000"}}',
        ],
        [
          "/authorize",
          '{"policyId":"open","context":{"user_id":"\\udfff\\ud800","note":"\\u0000\\ud800"}}',
        ],
        [
          "/events/provider-calls",
          '{"resource":"open\\udc00ai","action":"chat\\u0000","cost_usd":0}',
        ],
      ] as const;
      for (const [url, payload] of payloads) {
        const res = await app.inject({ method: "POST", url, headers, payload });
        expect(res.statusCode, payload).toBe(200);
      }
      await logger.flush();
      const verify = await app.inject({ method: "GET", url: "/audit-logs/verify", headers });
      expect(verify.json()).toEqual({
        ok: true,
        checked: 3,
        chain_id: "global",
        total: 3,
        verified: 3,
        unverified: 0,
        first_failure_id: null,
      });
      const list = await app.inject({ method: "GET", url: "/audit-logs", headers });
      const records = (list.json() as { records: Record<string, unknown>[] }).records;
      expect(records.map((r) => [r.userId, r.functionName])).toEqual([
        ["api-token", "chat\ufffd"],
        ["\ufffd\ufffd", null],
        ["a\ufffdb", "f\ufffd"],
      ]);
      expect(records[0]?.policyId).toBe("provider:open\ufffdai");
      // The context is stored as escaped JSON, so it keeps what was sent.
      expect(records[1]?.context).toEqual({ user_id: "\udfff\ud800", note: "\u0000\ud800" });
    } finally {
      await app.close();
      await logger.close();
      if (backend === "PostgreSQL") {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
    }
  });
});
