import { describe, expect, it } from "vitest";
import {
  type ApiPolicy,
  type ApiPolicyInput,
  type ApiPolicyStore,
  type ApiRule,
  type ApiRuleInput,
  DecisionLogger,
  SqliteApiPolicyStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
// Internal: an empty API-policy source, to build a Guardian like the server does.
import { noApiPolicies } from "../../src/decision/api-policy-client.ts";
import { Guardian } from "../../src/index.ts";
import {
  API_POLICIES_ID,
  ApiPolicyDecisions,
  type ApiPolicyEnvelope,
  createServer,
} from "../../src/server/index.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";

/** An in-memory store counting its reads. */
class CountingStore implements ApiPolicyStore {
  reads = 0;
  fail = false;
  readonly rules = new Map<string, ApiRule>();
  readonly policies = new Map<string, ApiPolicy>();
  #n = 0;
  /** Resolved by a test to let a pending read finish. */
  gate: Promise<void> | undefined;
  #stamp = () => new Date(Date.UTC(2026, 0, 1, 0, 0, this.#n++)).toISOString();
  async listRules() {
    return [...this.rules.values()];
  }
  async getRule(id: string) {
    return this.rules.get(id);
  }
  async getRules(ids: readonly string[]) {
    return ids.flatMap((id) => this.rules.get(id) ?? []);
  }
  async createRule(input: ApiRuleInput) {
    const at = this.#stamp();
    const rule = { ...input, id: `r${this.#n}`, created_at: at, updated_at: at };
    this.rules.set(rule.id, rule);
    return rule;
  }
  async updateRule(id: string, input: ApiRuleInput) {
    const old = this.rules.get(id);
    if (!old) return undefined;
    const rule = { ...old, ...input, updated_at: this.#stamp() };
    this.rules.set(id, rule);
    return rule;
  }
  async deleteRule(id: string) {
    return this.rules.delete(id);
  }
  async listPolicies() {
    this.reads++;
    if (this.fail) throw new Error("database is down");
    const snapshot = [...this.policies.values()];
    const gate = this.gate;
    if (gate !== undefined) await gate;
    return snapshot;
  }
  async getPolicy(id: string) {
    return this.policies.get(id);
  }
  async createPolicy(input: ApiPolicyInput) {
    const at = this.#stamp();
    const policy = { ...input, id: `p${this.#n}`, created_at: at, updated_at: at };
    this.policies.set(policy.id, policy);
    return policy;
  }
  async updatePolicy(id: string, input: ApiPolicyInput) {
    const old = this.policies.get(id);
    if (!old) return undefined;
    const policy = { ...old, ...input, updated_at: this.#stamp() };
    this.policies.set(id, policy);
    return policy;
  }
  async deletePolicy(id: string) {
    return this.policies.delete(id);
  }
  async close() {}
}

const RULE: ApiRuleInput = {
  name: "small",
  description: null,
  rule_type: "CONDITION",
  priority: 1,
  enabled: true,
  condition: { field: "input.context.amount", operator: "lte", value: 100 },
};
const POLICY = (ruleIds: string[]): ApiPolicyInput => ({
  name: "payments",
  description: null,
  scope: "GLOBAL",
  scope_value: null,
  failure_mode: "FAIL_CLOSED",
  enabled: true,
  rule_ids: ruleIds,
});

const envelope = (amount: unknown, org: string | null = null): ApiPolicyEnvelope => ({
  request: { method: "POST", path: "/authorize", query: {} },
  identity: {
    actor_id: "ann",
    actor_type: "user",
    tenant_id: null,
    org_id: org,
    team_id: null,
    user_id: "ann",
  },
  input: { action: "pay", resource: null, context: { amount } },
});

/** A cache over a fresh store holding one policy with one rule, and a clock to age it. */
async function fixture(maxAgeMs = 1000) {
  const store = new CountingStore();
  const rule = await store.createRule(RULE);
  const policy = await store.createPolicy(POLICY([rule.id]));
  const clock = { now: 0 };
  const decisions = new ApiPolicyDecisions(store, { maxAgeMs, monotonic: () => clock.now });
  return { store, rule, policy, clock, decisions };
}

describe("ApiPolicyDecisions", () => {
  it("reads the store once while fresh, and decides deny-overrides from the compiled rules", async () => {
    const { store, decisions, policy } = await fixture();
    const client = await decisions.client();
    expect(await decisions.client()).toBe(client);
    expect(store.reads).toBe(1);
    const ok = client.decide(API_POLICIES_ID, envelope(50));
    expect(ok).toMatchObject({ allowed: true, reason: `allowed by policy ${policy.id}` });
    expect(client.outcomeOf(ok)).toEqual({
      policies: [policy.id],
      evaluationErrors: [],
      failedOpen: [],
    });
    const denied = client.decide(API_POLICIES_ID, envelope(500));
    expect(denied).toMatchObject({ allowed: false, policyId: policy.id });
    expect(denied.reason).toBe(`policy_denied:${policy.id}`);
    // A field of the wrong type is unknown: denied, and explained.
    const odd = client.decide(API_POLICIES_ID, envelope("lots"));
    expect(odd.allowed).toBe(false);
    expect(odd.reason).toContain("input.context.amount");
  });

  it("reads again at once after a write through it, and after maxAgeMs for writes elsewhere", async () => {
    const { store, decisions, policy, rule, clock } = await fixture(1000);
    expect((await decisions.client()).decide(API_POLICIES_ID, envelope(500)).allowed).toBe(false);
    // Written through the cache: the next decision sees it.
    await decisions.updateRule(rule.id, {
      ...RULE,
      condition: { field: "input.context.amount", operator: "lte", value: 1000 },
    });
    expect((await decisions.client()).decide(API_POLICIES_ID, envelope(500)).allowed).toBe(true);
    expect(store.reads).toBe(2);
    // Written by another instance (straight to the store): stale until maxAgeMs has passed.
    await store.updatePolicy(policy.id, { ...POLICY([rule.id]), enabled: false });
    clock.now = 999;
    expect((await decisions.client()).decide(API_POLICIES_ID, envelope(500)).allowed).toBe(true);
    clock.now = 1000;
    const fresh = await decisions.client();
    expect(fresh.decide(API_POLICIES_ID, envelope(500)).reason).toBe("no_applicable_policies");
    expect(store.reads).toBe(3);
  });

  it("shares one read between concurrent callers, and never caches a read a write overtook", async () => {
    const { store, decisions, rule } = await fixture();
    let open: () => void = () => {};
    store.gate = new Promise((r) => {
      open = r;
    });
    const [a, b] = [decisions.client(), decisions.client()];
    // A write lands while the read is in flight.
    await decisions.deleteRule(rule.id);
    store.gate = undefined;
    open();
    expect(await a).toBe(await b);
    expect(store.reads).toBe(1);
    // The old read answered its callers, but the next one reads again and sees the write.
    const after = await decisions.client();
    expect(store.reads).toBe(2);
    const d = after.decide(API_POLICIES_ID, envelope(1));
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(`rule '${rule.id}' does not exist`);
  });

  it("caches no failed read: the store's error reaches the caller, the next call reads again", async () => {
    const { store, decisions } = await fixture();
    store.fail = true;
    await expect(decisions.client()).rejects.toThrow("database is down");
    store.fail = false;
    expect((await decisions.client()).size).toBe(1);
    expect(store.reads).toBe(2);
  });

  it("keeps a stored condition that no longer compiles as an error of its policy, failing open or closed", async () => {
    const { store, decisions, policy, rule } = await fixture();
    // A condition the server would refuse, stored by an older version.
    store.rules.set(rule.id, { ...rule, condition: { field: "x", operator: "nope", value: 1 } });
    const closed = (await decisions.client()).decide(API_POLICIES_ID, envelope(1));
    expect(closed.allowed).toBe(false);
    expect(closed.error).toMatchObject({ code: "api_rule_evaluation_failed" });
    await decisions.updatePolicy(policy.id, { ...POLICY([rule.id]), failure_mode: "FAIL_OPEN" });
    const client = await decisions.client();
    const open = client.decide(API_POLICIES_ID, envelope(1));
    expect(open).toMatchObject({ allowed: true, failedOpen: true });
    expect(client.outcomeOf(open)?.failedOpen).toEqual([policy.id]);
  });

  it("applies a scoped policy only to its callers; none applying denies", async () => {
    const { decisions, store, rule } = await fixture();
    store.policies.clear();
    await decisions.createPolicy({
      ...POLICY([rule.id]),
      scope: "ORGANIZATION",
      scope_value: "acme",
    });
    const client = await decisions.client();
    expect(client.decide(API_POLICIES_ID, envelope(1, "acme")).allowed).toBe(true);
    expect(client.decide(API_POLICIES_ID, envelope(1, "other")).reason).toBe(
      "no_applicable_policies",
    );
    expect(noApiPolicies().decide(API_POLICIES_ID, envelope(1)).policyId).toBe("api:none");
  });

  it("refuses a maxAgeMs that is not a number of ms", () => {
    expect(() => new ApiPolicyDecisions(new CountingStore(), { maxAgeMs: -1 })).toThrow(
      /maxAgeMs must be a finite number/,
    );
  });
});

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const tempDb = tempDbs("hexarch-api-policy-cache");
const closers = closeAfterEach();

describe("POST /authorize with API-defined policies, two servers on one database", () => {
  it("sees a write through itself at once, and another server's within its maxAgeMs", async () => {
    const path = tempDb();
    const clock = { now: 0 };
    const servers = [];
    for (const cache of [undefined, { maxAgeMs: 5000, monotonic: () => clock.now }]) {
      const store = new SqliteApiPolicyStore(path);
      const logger = new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false });
      const app = await createServer({
        guardian: new Guardian({ env: {}, policies: "policies: []", onWarn: () => {} }),
        auditLogger: logger,
        apiToken: TOKEN,
        logger: false,
        apiPolicies: cache ? new ApiPolicyDecisions(store, cache) : store,
      });
      closers.push(async () => {
        await app.close();
        await logger.close();
        await store.close();
      });
      servers.push(app);
    }
    const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
    const ask = async (app: typeof a, amount: number) =>
      (
        await app.inject({
          method: "POST",
          url: "/authorize",
          headers: AUTH,
          payload: { action: "pay", context: { amount } },
        })
      ).json() as { allowed: boolean; reason: string; policies: string[] };
    expect((await ask(b, 50)).reason).toBe("no_applicable_policies");
    const rule = (
      await a.inject({ method: "POST", url: "/rules", headers: AUTH, payload: RULE })
    ).json() as ApiRule;
    const created = await a.inject({
      method: "POST",
      url: "/policies",
      headers: AUTH,
      payload: POLICY([rule.id]),
    });
    expect(created.statusCode).toBe(200);
    expect(await ask(a, 50)).toMatchObject({ allowed: true, policies: [created.json().id] });
    // B read the store before A's write and keeps what it read until its cache is 5 s old.
    expect((await ask(b, 50)).reason).toBe("no_applicable_policies");
    clock.now = 5000;
    expect(await ask(b, 50)).toMatchObject({ allowed: true });
    expect(await ask(b, 500)).toMatchObject({ allowed: false });
  });
});
