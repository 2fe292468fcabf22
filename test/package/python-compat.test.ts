import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type Context,
  type DecideInput,
  type Decision,
  LocalDecisionClient,
  loadPolicyFile,
  type Policy,
  type PolicyRule,
  type PolicySet,
  parsePolicies,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

const FIXTURES = ["web-service", "local-llm", "spend-headroom", "notebook-dump"] as const;
type Fixture = (typeof FIXTURES)[number];

const fixturePath = (name: Fixture): string =>
  fileURLToPath(new URL(`../fixtures/python/${name}.yaml`, import.meta.url));

const load = (name: Fixture): PolicySet => loadPolicyFile(fixturePath(name), { env: {} });

function policy(set: PolicySet, id: string): Policy {
  const found = set.policies.find((p) => p.id === id);
  if (!found) throw new Error(`fixture has no policy '${id}'`);
  return found;
}

function rule(set: PolicySet, policyId: string, index = 0): PolicyRule {
  const found = policy(set, policyId).rules[index];
  if (!found) throw new Error(`policy '${policyId}' has no rule ${index}`);
  return found;
}

/** A client over a fixture with a clock the test moves by hand (2026-01-01 is a Thursday). */
function clientFor(name: Fixture, start = "2026-01-01T12:00:00Z") {
  const clock = new ManualClock(start);
  const client = new LocalDecisionClient({ policies: load(name), clock: clock.now });
  const decide = async (policyId: string, ctx: Context, input?: DecideInput): Promise<Decision> =>
    await client.decide(policyId, ctx, input);
  return { clock, client, decide };
}

describe("files written for the Python package load unchanged", () => {
  it.each(FIXTURES)("%s.yaml loads with every policy in file order", (name) => {
    const path = fixturePath(name);
    const text = readFileSync(path, "utf8");
    const ids = [...text.matchAll(/^\s*(?:- )?id: "?([a-z_0-9]+)"?$/gm)].map((m) => m[1]);

    const set = load(name);

    expect(set.source).toBe(path);
    expect(ids.length).toBeGreaterThan(0);
    expect(set.policies.map((p) => p.id)).toEqual(ids);
  });

  it("ignores a user's own top-level section such as `tinyllama:`", () => {
    const set = load("local-llm");
    expect(Object.keys(set)).not.toContain("tinyllama");
    expect(set.policies).toHaveLength(8);
  });

  it("accepts PyYAML's dump layout (sorted keys, unindented lists, plain scalars)", () => {
    const set = load("notebook-dump");
    expect(policy(set, "smoke_test")).toMatchObject({
      description: "Lets every call through",
      enabled: true,
      rules: [{ action: "allow" }],
    });
    expect(policy(set, "placeholder").rules).toEqual([]);
    expect(rule(set, "sandbox_throttle")).toMatchObject({
      resource: ["sandbox_api"],
      rateLimits: [{ key: "requests_per_minute", limit: 5, windowMs: 60_000 }],
      action: "block",
    });
  });
});

describe("top-level sections mean what DESIGN.md says", () => {
  it("enforcement: strict is enforce mode, enforcement: warn is monitor mode", () => {
    expect(load("web-service").mode).toBe("enforce");
    expect(load("local-llm").mode).toBe("monitor");
    expect(load("notebook-dump").mode).toBeUndefined();
  });

  it("maps logging levels to info / warning / error and keeps enabled and file", () => {
    expect(load("web-service").logging).toEqual({
      enabled: true,
      level: "info",
      file: "logs/guardrail-decisions.jsonl",
    });
    expect(load("local-llm").logging).toEqual({
      enabled: true,
      level: "warning",
      file: "guardrails/llm-decisions.log",
    });
    expect(load("spend-headroom").logging).toEqual({
      enabled: true,
      level: "error",
      file: "/var/log/app/guardrails.jsonl",
    });
    // `debug` logs everything, like `info`; a disabled section stays disabled.
    expect(load("notebook-dump").logging).toEqual({ enabled: false, level: "info" });
  });

  it("turns opa.timeout_seconds into timeoutMs and ignores health_check_interval", () => {
    expect(load("web-service").opa).toEqual({ url: "http://127.0.0.1:8181", timeoutMs: 5000 });
    expect(load("local-llm").opa).toEqual({ url: "http://opa.internal:8181", timeoutMs: 2500 });
    expect(load("spend-headroom").opa).toEqual({ url: "http://localhost:8181" });
    expect(load("notebook-dump").opa).toBeUndefined();
  });
});

describe("policy-level enabled: false", () => {
  it("is loaded and listed with its rules, marked disabled", () => {
    const set = load("local-llm");
    const disabled = policy(set, "operator_access");
    expect(disabled.enabled).toBe(false);
    expect(disabled.rules).toHaveLength(1);
    expect(set.policies.filter((p) => !p.enabled).map((p) => p.id)).toEqual(["operator_access"]);
    const { client } = clientFor("local-llm");
    expect(client.listPolicies()).toContain("operator_access");
  });

  it("allows every call, with a reason saying the policy is disabled", async () => {
    const { decide } = clientFor("local-llm");
    // Would be blocked by allowed_users if the policy were on.
    const decision = await decide("operator_access", {
      resource: "admin_console",
      userId: "intruder",
    });
    expect(decision).toMatchObject({ allowed: true, action: "allow", decision: "allowed" });
    expect(decision.reason).toMatch(/operator_access/);
    expect(decision.reason).toMatch(/disabled/);
  });
});

describe("budgets with alert_at_percentage and warn_at_N%", () => {
  it("normalizes both spellings to one warn threshold on a USD budget", () => {
    expect(rule(load("web-service"), "llm_spend")).toMatchObject({
      resource: ["openai"],
      budgets: [{ key: "monthly_budget", unit: "usd", period: "month", limit: 25_000_000 }],
      warnAtPercent: 75,
      action: "block",
    });
    expect(rule(load("local-llm"), "llm_budget")).toMatchObject({
      budgets: [{ key: "monthly_budget_usd", unit: "usd", period: "month", limit: 40_000_000 }],
      warnAtPercent: 80,
      action: "block",
    });
  });

  it("allows below the threshold, warns from it, blocks a call that would exceed the budget", async () => {
    const { decide } = clientFor("web-service");
    const ctx = { resource: "openai" };

    const first = await decide("llm_spend", { ...ctx, cost: 10 });
    expect(first.action).toBe("allow");

    const atThreshold = await decide("llm_spend", { ...ctx, cost: 8.75 });
    expect(atThreshold).toMatchObject({ allowed: true, action: "warn", decision: "warned" });
    expect(atThreshold.reason).toContain("75%");
    expect(atThreshold.reason).toContain("$18.75");
    expect(atThreshold.reason).toContain("$25.00");

    const over = await decide("llm_spend", { ...ctx, cost: 7 });
    expect(over).toMatchObject({ allowed: false, action: "block", decision: "blocked" });
    expect(over.reason).toContain("llm_spend");
    expect(over.reason).toContain("$25.00");

    // The refused call spent nothing: exactly the rest of the budget still fits.
    const rest = await decide("llm_spend", { ...ctx, cost: 6.25 });
    expect(rest).toMatchObject({ allowed: true, action: "warn" });
  });

  it("does not count calls to another resource", async () => {
    const { decide } = clientFor("web-service");
    const other = await decide("llm_spend", { resource: "anthropic", cost: 500 });
    expect(other.action).toBe("allow");
    expect(other.matchedRules).toEqual([]);
    // The whole budget is still there for openai.
    expect((await decide("llm_spend", { resource: "openai", cost: 25 })).allowed).toBe(true);
  });

  it("block_at_90% treats 90% of the budget as the limit", async () => {
    expect(rule(load("spend-headroom"), "openai_spend")).toMatchObject({
      budgets: [{ key: "monthly_budget", limit: 100_000_000 }],
      limitAtPercent: 90,
      action: "block",
    });
    const { decide } = clientFor("spend-headroom");
    expect((await decide("openai_spend", { resource: "openai", cost: 85 })).allowed).toBe(true);
    const past = await decide("openai_spend", { resource: "openai", cost: 6 });
    expect(past).toMatchObject({ allowed: false, action: "block" });
    expect((await decide("openai_spend", { resource: "openai", cost: 5 })).allowed).toBe(true);
  });

  it("starts a new calendar month from zero", async () => {
    const { decide, clock } = clientFor("spend-headroom", "2026-01-31T23:00:00Z");
    expect((await decide("openai_spend", { resource: "openai", cost: 90 })).allowed).toBe(true);
    expect((await decide("openai_spend", { resource: "openai", cost: 1 })).allowed).toBe(false);
    clock.set("2026-02-01T00:00:00Z");
    expect((await decide("openai_spend", { resource: "openai", cost: 1 })).allowed).toBe(true);
  });
});

describe("requests_per_minute and requests_per_hour in one rule", () => {
  it("keeps both windows", () => {
    expect(rule(load("web-service"), "request_throttle")).toMatchObject({
      resource: ["*"],
      rateLimits: [
        { key: "requests_per_minute", limit: 10, windowMs: 60_000 },
        { key: "requests_per_hour", limit: 25, windowMs: 3_600_000 },
      ],
      action: "block",
    });
  });

  it("enforces the minute limit and, across minutes, the hour limit", async () => {
    const { decide, clock } = clientFor("web-service");
    const call = () => decide("request_throttle", { resource: "search" });

    for (let i = 0; i < 10; i++) expect((await call()).allowed).toBe(true);
    const minuteFull = await call();
    expect(minuteFull.allowed).toBe(false);
    expect(minuteFull.reason).toContain("10 requests per minute");

    clock.advance(2 * 60_000);
    for (let i = 0; i < 10; i++) expect((await call()).allowed).toBe(true);

    clock.advance(2 * 60_000);
    for (let i = 0; i < 5; i++) expect((await call()).allowed).toBe(true);
    const hourFull = await call();
    expect(hourFull.allowed).toBe(false);
    expect(hourFull.reason).toContain("25 requests per hour");

    clock.advance(61 * 60_000);
    expect((await call()).allowed).toBe(true);
  });
});

describe("resource_types", () => {
  it("matches the context's resourceType or resource_type", async () => {
    const set = load("web-service");
    expect(rule(set, "guarded_removal")).toMatchObject({
      operation: ["delete"],
      resourceTypes: ["file", "directory", "database"],
      action: "require_confirmation",
    });
    const { decide } = clientFor("web-service");
    const db = await decide("guarded_removal", { operation: "delete", resourceType: "database" });
    expect(db).toMatchObject({ allowed: false, action: "require_confirmation" });
    const dir = await decide("guarded_removal", {
      operation: "delete",
      resource_type: "directory",
    });
    expect(dir.action).toBe("require_confirmation");
    const cache = await decide("guarded_removal", { operation: "delete", resourceType: "cache" });
    expect(cache.action).toBe("allow");
    const confirmed = await decide("guarded_removal", {
      operation: "delete",
      resourceType: "database",
      confirm: true,
    });
    expect(confirmed.allowed).toBe(true);
  });
});

describe("allowed_users with @roles and @self", () => {
  const base = { operation: "update_record" };

  it("keeps the entries as written", () => {
    expect(rule(load("web-service"), "record_access").allowedUsers).toEqual([
      "@admin",
      "@self",
      "sync-bot",
    ]);
  });

  it("lets a listed user through", async () => {
    const { decide } = clientFor("web-service");
    expect((await decide("record_access", { ...base, userId: "sync-bot" })).allowed).toBe(true);
    expect((await decide("record_access", { ...base, user_id: "sync-bot" })).allowed).toBe(true);
  });

  it("lets a user with a listed role through (roles list or single role)", async () => {
    const { decide } = clientFor("web-service");
    const viaList = await decide("record_access", {
      ...base,
      userId: "dana",
      roles: ["viewer", "admin"],
    });
    expect(viaList.allowed).toBe(true);
    expect(
      (await decide("record_access", { ...base, userId: "dana", role: "admin" })).allowed,
    ).toBe(true);
  });

  it("lets the owner of the resource through for @self", async () => {
    const { decide } = clientFor("web-service");
    const own = await decide("record_access", { ...base, userId: "erin", ownerId: "erin" });
    expect(own.allowed).toBe(true);
    const other = await decide("record_access", { ...base, userId: "erin", ownerId: "frank" });
    expect(other.allowed).toBe(false);
  });

  it("fires the action for anyone else, naming the user", async () => {
    const { decide } = clientFor("web-service");
    const stranger = await decide("record_access", { ...base, userId: "mallory", role: "viewer" });
    expect(stranger).toMatchObject({ allowed: false, action: "block" });
    expect(stranger.reason).toContain("mallory");
    const anonymous = await decide("record_access", { ...base });
    expect(anonymous.allowed).toBe(false);
  });
});

describe("forbidden_hours and forbidden_days", () => {
  it("normalizes a window crossing midnight and full day names", () => {
    const set = load("web-service");
    expect(rule(set, "change_windows", 0)).toMatchObject({
      operation: ["deploy_to_production"],
      schedule: { forbiddenHours: [{ startMinute: 22 * 60, endMinute: 6 * 60 }] },
      timezone: "UTC",
      action: "require_confirmation",
    });
    expect(rule(set, "change_windows", 1)).toMatchObject({
      schedule: { forbiddenDays: [0, 5, 6] },
      action: "warn",
    });
  });

  it.each([
    ["2026-01-01T22:00:00Z", "require_confirmation"],
    ["2026-01-01T23:30:00Z", "require_confirmation"],
    ["2026-01-02T03:00:00Z", "require_confirmation"],
    ["2026-01-02T05:59:00Z", "require_confirmation"],
    ["2026-01-02T06:00:00Z", "allow"],
    ["2026-01-01T12:00:00Z", "allow"],
    ["2026-01-01T21:59:00Z", "allow"],
  ])("a deploy at %s → %s", async (at, action) => {
    const { decide } = clientFor("web-service", at);
    const d = await decide("change_windows", { operation: "deploy_to_production" });
    expect(d.action).toBe(action);
    if (action !== "allow") expect(d.reason).toContain("22:00-06:00");
  });

  it("lets a deploy inside the window through once confirmed", async () => {
    const { decide } = clientFor("web-service", "2026-01-01T23:30:00Z");
    const d = await decide("change_windows", { operation: "deploy_to_production", confirm: true });
    expect(d.allowed).toBe(true);
  });

  it.each([
    ["2026-01-01T12:00:00Z", "thursday", "allow"],
    ["2026-01-02T12:00:00Z", "friday", "warn"],
    ["2026-01-03T12:00:00Z", "saturday", "warn"],
    ["2026-01-04T12:00:00Z", "sunday", "warn"],
    ["2026-01-05T12:00:00Z", "monday", "allow"],
  ])("a reindex at %s (%s) → %s", async (at, day, action) => {
    const { decide } = clientFor("web-service", at);
    const d = await decide("change_windows", { operation: "rebuild_search_index" });
    expect(d.action).toBe(action);
    expect(d.allowed).toBe(true);
    if (action === "warn") expect(d.reason).toContain(day);
  });

  it("allowed_hours also takes a list; both lists apply to one rule", async () => {
    expect(rule(load("local-llm"), "voice_schedule").schedule).toEqual({
      allowedHours: [{ startMinute: 18 * 60, endMinute: 8 * 60 }],
      forbiddenHours: [{ startMinute: 9 * 60, endMinute: 17 * 60 }],
    });
    const evening = clientFor("local-llm", "2026-01-01T20:00:00Z");
    expect((await evening.decide("voice_schedule", { operation: "voice_chat" })).action).toBe(
      "allow",
    );
    const office = clientFor("local-llm", "2026-01-01T10:00:00Z");
    expect((await office.decide("voice_schedule", { operation: "voice_chat" })).action).toBe(
      "warn",
    );
  });
});

describe("feature with enabled: false, requires_approval, requires: confirmation", () => {
  it("normalizes the feature switch and approval flag", () => {
    const set = load("web-service");
    expect(rule(set, "feature_gates", 0)).toMatchObject({
      enabled: true,
      feature: { name: "streaming_v2", enabled: false },
      action: "block",
    });
    expect(rule(set, "feature_gates", 1)).toMatchObject({
      enabled: true,
      feature: { name: "bulk_export", enabled: true },
      requires: ["confirm"],
      action: "require_confirmation",
    });
    expect(rule(load("local-llm"), "cache_maintenance").requires).toEqual(["confirm"]);
  });

  it("a disabled feature fires the action", async () => {
    const { decide } = clientFor("web-service");
    const d = await decide("feature_gates", { feature: "streaming_v2" });
    expect(d).toMatchObject({ allowed: false, action: "block" });
    expect(d.reason).toContain("streaming_v2");
    expect(d.reason).toContain("disabled");
  });

  it("an enabled feature that requires approval asks for confirmation", async () => {
    const { decide } = clientFor("web-service");
    const asked = await decide("feature_gates", { feature: "bulk_export" });
    expect(asked).toMatchObject({ allowed: false, action: "require_confirmation" });
    const approved = await decide("feature_gates", { feature: "bulk_export", confirm: true });
    expect(approved.allowed).toBe(true);
  });

  it("asks for confirmation for every spelling of the flag, when the rule names no action", () => {
    for (const flag of ["confirm", "confirmation", "confirmed", "approval", "approved"]) {
      const set = parsePolicies(
        `policies:\n  - id: p\n    rules:\n      - operation: purge\n        requires: ${flag}\n`,
      );
      expect(set.policies[0]?.rules[0], flag).toMatchObject({
        requires: ["confirm"],
        action: "require_confirmation",
      });
    }
  });

  it('requires: "confirmation" passes only with confirm: true', async () => {
    const { decide } = clientFor("local-llm");
    const ctx = { operation: "clear_cache" };
    expect((await decide("cache_maintenance", ctx)).action).toBe("require_confirmation");
    expect((await decide("cache_maintenance", { ...ctx, confirm: "yes" })).allowed).toBe(false);
    expect((await decide("cache_maintenance", { ...ctx, confirm: true })).allowed).toBe(true);
  });
});

describe("parameter bounds", () => {
  it("normalizes min, max and max_length", () => {
    const set = load("local-llm");
    expect(policy(set, "generation_limits").rules.map((r) => r.parameter)).toEqual([
      { name: "temperature", min: 0, max: 1 },
      { name: "num_predict", min: 1, max: 512 },
      { name: "system", maxLength: 2000 },
    ]);
  });

  it("reads the parameter from the context", async () => {
    const { decide } = clientFor("local-llm");
    expect((await decide("generation_limits", { temperature: 0.7 })).allowed).toBe(true);
    expect((await decide("generation_limits", { temperature: 1 })).allowed).toBe(true);
    const hot = await decide("generation_limits", { temperature: 1.5 });
    expect(hot).toMatchObject({ allowed: false, action: "block" });
    expect(hot.reason).toContain("temperature");
    expect(hot.reason).toContain("1.5");
    expect((await decide("generation_limits", { num_predict: 0 })).allowed).toBe(false);
    expect((await decide("generation_limits", { num_predict: 513 })).allowed).toBe(false);
  });

  it("reads the parameter from the guarded call's first argument via `args`", async () => {
    const { decide } = clientFor("local-llm");
    const ok = await decide("generation_limits", {}, { args: [{ temperature: 0.2 }] });
    expect(ok.allowed).toBe(true);
    const cold = await decide("generation_limits", {}, { args: [{ temperature: -0.1 }, "x"] });
    expect(cold.allowed).toBe(false);
    expect(cold.reason).toContain("-0.1");
    const tooLong = await decide("generation_limits", {}, { args: [{ system: "x".repeat(2001) }] });
    expect(tooLong.allowed).toBe(false);
    expect(tooLong.reason).toContain("2000");
    const justFits = await decide(
      "generation_limits",
      {},
      { args: [{ system: "x".repeat(2000) }] },
    );
    expect(justFits.allowed).toBe(true);
  });

  it("prefers the context over the argument, and ignores a non-object first argument", async () => {
    const { decide } = clientFor("local-llm");
    const fromCtx = await decide(
      "generation_limits",
      { temperature: 0.5 },
      { args: [{ temperature: 9 }] },
    );
    expect(fromCtx.allowed).toBe(true);
    const listArg = await decide("generation_limits", {}, { args: [[{ temperature: 9 }]] });
    expect(listArg.allowed).toBe(true);
  });
});

describe("model with allowed, and action: allow", () => {
  it("normalizes model patterns and the allowed flag", () => {
    const set = load("local-llm");
    expect(rule(set, "model_choice", 0)).toMatchObject({
      model: { patterns: ["tinyllama"], allowed: true },
      action: "allow",
    });
    expect(rule(set, "model_choice", 1)).toMatchObject({
      model: { patterns: ["gpt-4*"], allowed: false },
      action: "block",
    });
  });

  it("allowed: false fires the action for matching models", async () => {
    const { decide } = clientFor("local-llm");
    const premium = await decide("model_choice", { model: "gpt-4o" });
    expect(premium).toMatchObject({ allowed: false, action: "block" });
    expect(premium.reason).toContain("gpt-4o");
  });

  it("action: allow is an explicit allow outcome naming the rule", async () => {
    const { decide } = clientFor("local-llm");
    const local = await decide("model_choice", { model: "tinyllama" });
    expect(local).toMatchObject({ allowed: true, action: "allow" });
    expect(local.matchedRules).toEqual(["model_choice/rules[0]"]);
    expect(local.ruleId).toBe("model_choice/rules[0]");
    const status = clientFor("spend-headroom");
    const probe = await status.decide("status_checks", { resource: "status_page" });
    expect(probe).toMatchObject({ allowed: true, action: "allow" });
    expect(probe.ruleId).toBe("status_checks/rules[0]");
  });

  it("a model rule without allowed asks for its action on matching models", async () => {
    const { decide } = clientFor("spend-headroom");
    expect((await decide("premium_models", { model: "gpt-4-turbo" })).action).toBe(
      "require_confirmation",
    );
    expect((await decide("premium_models", { model: "gpt-3.5-turbo" })).action).toBe("allow");
  });
});

describe("token limits", () => {
  it("normalizes max_tokens_per_request and an hourly token budget", () => {
    const set = load("local-llm");
    expect(rule(set, "token_usage", 0)).toMatchObject({ maxTokensPerRequest: 512 });
    expect(rule(set, "token_usage", 1)).toMatchObject({
      budgets: [{ key: "max_tokens_per_hour", unit: "tokens", period: "hour", limit: 4000 }],
      warnAtPercent: 80,
      action: "block",
    });
  });

  it("max_tokens_per_request fires when the context's tokens exceed it", async () => {
    const { decide } = clientFor("local-llm");
    expect((await decide("token_usage", { resource: "tinyllama", tokens: 512 })).allowed).toBe(
      true,
    );
    const big = await decide("token_usage", { resource: "tinyllama", tokens: 513 });
    expect(big).toMatchObject({ allowed: false, action: "block" });
    expect(big.reason).toContain("512");
  });

  it("counts tokens against the hourly budget, warns from 80%, blocks past it", async () => {
    const { decide, clock } = clientFor("local-llm");
    const call = (tokens: number) => decide("token_usage", { resource: "tinyllama", tokens });

    for (let i = 0; i < 7; i++) expect((await call(400)).action).toBe("allow"); // 2800
    const warned = await call(400); // 3200 = 80%
    expect(warned.action).toBe("warn");
    expect(warned.reason).toContain("80%");
    expect((await call(400)).action).toBe("warn"); // 3600
    expect((await call(400)).allowed).toBe(true); // 4000: exactly the budget
    const over = await call(1);
    expect(over).toMatchObject({ allowed: false, action: "block" });
    expect(over.reason).toContain("4000");

    clock.set("2026-01-01T13:00:00Z");
    expect((await call(400)).action).toBe("allow");
  });

  it("a call refused by the per-request cap spends none of the hourly budget", async () => {
    const { decide } = clientFor("local-llm");
    expect((await decide("token_usage", { resource: "tinyllama", tokens: 100_000 })).allowed).toBe(
      false,
    );
    for (let i = 0; i < 7; i++) {
      expect((await decide("token_usage", { resource: "tinyllama", tokens: 400 })).action).toBe(
        "allow",
      );
    }
  });
});
