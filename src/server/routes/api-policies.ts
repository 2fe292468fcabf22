/**
 * Rules and policies over HTTP (the Python server's `/rules` and `/policies`, with the
 * validation it skips), the YAML policies listed read-only beside them, and
 * `POST /policies/reload`.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import {
  API_FAILURE_MODES,
  API_POLICY_SCOPES,
  type ApiFailureMode,
  type ApiPolicy,
  type ApiPolicyInput,
  type ApiPolicyScope,
  type ApiPolicyStore,
  type ApiRule,
  type ApiRuleInput,
} from "../../api-policies/types.ts";
import { compileRuleCondition } from "../../decision/api-policy-client.ts";
import { policyText } from "../../policy/policy-text.ts";
import type { Policy } from "../../policy/types.ts";
import { backend, HttpError } from "../errors.ts";
import {
  type PolicyBody,
  policyCreateSchema,
  policyDeleteSchema,
  policyGetSchema,
  policyListSchema,
  policyPatchSchema,
  policyReloadSchema,
  policyReplaceSchema,
  type RuleBody,
  ruleCreateSchema,
  ruleDeleteSchema,
  ruleGetSchema,
  ruleListSchema,
  rulePatchSchema,
  ruleReplaceSchema,
} from "../schemas/index.ts";
import type { ServerContext } from "./context.ts";

const STORE = "policy store";

function storeOf(ctx: ServerContext): ApiPolicyStore {
  if (!ctx.apiPolicies)
    throw new HttpError(
      404,
      "api_policies_disabled",
      "this server keeps no API-defined rules or policies",
    );
  return ctx.apiPolicies;
}

const unprocessable = (code: string, field: string, message: string) =>
  new HttpError(422, code, `${field} ${message}`, { extras: { field } });

/** A rule's fields after a create, replace or patch, checked. */
function ruleInput(body: RuleBody, base: ApiRuleInput | undefined): ApiRuleInput {
  const input: ApiRuleInput = {
    name: body.name ?? base?.name ?? "",
    description: body.description !== undefined ? body.description : (base?.description ?? null),
    rule_type: body.rule_type ?? base?.rule_type ?? "",
    priority: body.priority ?? base?.priority ?? 100,
    enabled: body.enabled ?? base?.enabled ?? true,
    condition: body.condition ?? base?.condition ?? {},
  };
  try {
    compileRuleCondition(input.condition);
  } catch (err) {
    throw new HttpError(422, "invalid_condition", `body.${(err as Error).message}`, {
      extras: { field: "body.condition" },
    });
  }
  return input;
}

/** A policy's fields after a create, replace or patch, checked (rule ids apart). */
function policyInput(body: PolicyBody, base: ApiPolicyInput | undefined): ApiPolicyInput {
  const scope = body.scope ?? base?.scope ?? "GLOBAL";
  if (!(API_POLICY_SCOPES as readonly string[]).includes(scope))
    throw unprocessable(
      "invalid_scope",
      "body.scope",
      `must be one of ${API_POLICY_SCOPES.join(", ")}, not '${scope}'`,
    );
  const failureMode = body.failure_mode ?? base?.failure_mode ?? "FAIL_CLOSED";
  if (!(API_FAILURE_MODES as readonly string[]).includes(failureMode))
    throw unprocessable(
      "invalid_failure_mode",
      "body.failure_mode",
      `must be one of ${API_FAILURE_MODES.join(", ")}, not '${failureMode}'`,
    );
  const scopeValue =
    body.scope_value !== undefined ? body.scope_value : (base?.scope_value ?? null);
  if (scope !== "GLOBAL" && (scopeValue === null || scopeValue === ""))
    throw unprocessable(
      "invalid_scope_value",
      "body.scope_value",
      `is required for scope ${scope}: the ${scope.toLowerCase()} id it applies to`,
    );
  return {
    name: body.name ?? base?.name ?? "",
    description: body.description !== undefined ? body.description : (base?.description ?? null),
    scope: scope as ApiPolicyScope,
    scope_value: scope === "GLOBAL" ? null : scopeValue,
    failure_mode: failureMode as ApiFailureMode,
    enabled: body.enabled ?? base?.enabled ?? true,
    rule_ids: [...new Set(body.rule_ids ?? base?.rule_ids ?? [])],
  };
}

/** A 400 naming the rule ids a policy refers to that do not exist. */
async function checkRuleIds(store: ApiPolicyStore, ids: readonly string[]): Promise<void> {
  const found = new Set((await backend(STORE, () => store.getRules(ids))).map((r) => r.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0)
    throw new HttpError(
      400,
      "unknown_rules",
      `body.rule_ids names rules that do not exist: ${missing.join(", ")}`,
      { extras: { field: "body.rule_ids", ruleIds: missing } },
    );
}

const apiView = (p: ApiPolicy) => ({ ...p, source: "api" as const, readOnly: false });

const yamlView = (p: Policy) => ({
  id: p.id,
  name: p.name ?? p.id,
  description: p.description ?? null,
  enabled: p.enabled,
  failure_mode: p.failOpen ? "FAIL_OPEN" : "FAIL_CLOSED",
  rules: p.rules.length,
  source: "yaml" as const,
  readOnly: true,
  ...yamlText(p),
});

/** The policy's entry of the file as written (`yaml`), when it was loaded from one. */
function yamlText(p: Policy): { yaml?: string } {
  const text = policyText(p);
  return text === undefined ? {} : { yaml: text };
}

const ruleNotFound = (id: string) =>
  new HttpError(404, "unknown_rule", `no rule has the id '${id}'`);
const policyNotFound = (id: string) =>
  new HttpError(404, "unknown_policy", `no policy has the id '${id}'`);

/** Registers `/rules`, `/policies` and `POST /policies/reload`. */
export function apiPolicyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: RuleBody }>("/rules", { schema: ruleCreateSchema }, async (request) => {
    const store = storeOf(ctx);
    const input = ruleInput(request.body, undefined);
    return backend(STORE, () => store.createRule(input));
  });
  app.get("/rules", { schema: ruleListSchema }, async () => {
    const store = storeOf(ctx);
    return backend(STORE, () => store.listRules());
  });
  app.get<{ Params: { id: string } }>(
    "/rules/:id",
    { schema: ruleGetSchema },
    async (request): Promise<ApiRule> => {
      const store = storeOf(ctx);
      const rule = await backend(STORE, () => store.getRule(request.params.id));
      if (!rule) throw ruleNotFound(request.params.id);
      return rule;
    },
  );
  for (const [method, schema] of [
    ["PUT", ruleReplaceSchema],
    ["PATCH", rulePatchSchema],
  ] as const) {
    app.route<{ Params: { id: string }; Body: RuleBody }>({
      method,
      url: "/rules/:id",
      schema,
      handler: async (request): Promise<ApiRule> => {
        const store = storeOf(ctx);
        const { id } = request.params;
        const current = await backend(STORE, () => store.getRule(id));
        if (!current) throw ruleNotFound(id);
        const input = ruleInput(request.body, method === "PATCH" ? current : undefined);
        const updated = await backend(STORE, () => store.updateRule(id, input));
        if (!updated) throw ruleNotFound(id);
        return updated;
      },
    });
  }
  app.delete<{ Params: { id: string } }>(
    "/rules/:id",
    { schema: ruleDeleteSchema },
    async (request, reply) => {
      const store = storeOf(ctx);
      if (!(await backend(STORE, () => store.deleteRule(request.params.id))))
        throw ruleNotFound(request.params.id);
      return reply.code(204).send();
    },
  );

  /** A YAML policy by id: changing it over the API is refused. */
  const readOnly = (id: string) => {
    if (ctx.guardian.getPolicy(id))
      throw new HttpError(
        409,
        "read_only_policy",
        `policy '${id}' comes from the policy file: change the file and POST /policies/reload`,
      );
  };

  app.post<{ Body: PolicyBody }>("/policies", { schema: policyCreateSchema }, async (request) => {
    const store = storeOf(ctx);
    const input = policyInput(request.body, undefined);
    await checkRuleIds(store, input.rule_ids);
    return apiView(await backend(STORE, () => store.createPolicy(input)));
  });
  app.get("/policies", { schema: policyListSchema }, async () => {
    const yaml = ctx.guardian
      .listPolicies()
      .map((id) => ctx.guardian.getPolicy(id))
      .filter((p): p is Policy => p !== undefined)
      .map(yamlView);
    const store = ctx.apiPolicies;
    const api = store ? (await backend(STORE, () => store.listPolicies())).map(apiView) : [];
    return [...yaml, ...api];
  });
  app.get<{ Params: { id: string } }>(
    "/policies/:id",
    { schema: policyGetSchema },
    async (request) => {
      const { id } = request.params;
      const yaml = ctx.guardian.getPolicy(id);
      if (yaml) return yamlView(yaml);
      const store = ctx.apiPolicies;
      const policy = store && (await backend(STORE, () => store.getPolicy(id)));
      if (!policy) throw policyNotFound(id);
      return apiView(policy);
    },
  );
  for (const [method, schema] of [
    ["PUT", policyReplaceSchema],
    ["PATCH", policyPatchSchema],
  ] as const) {
    app.route<{ Params: { id: string }; Body: PolicyBody }>({
      method,
      url: "/policies/:id",
      schema,
      handler: async (request) => {
        const { id } = request.params;
        readOnly(id);
        const store = storeOf(ctx);
        const current = await backend(STORE, () => store.getPolicy(id));
        if (!current) throw policyNotFound(id);
        const input = policyInput(request.body, method === "PATCH" ? current : undefined);
        // Only ids the request names must exist: a rule deleted since is the policy's own
        // business (it then fails to evaluate, see FAIL_OPEN).
        if (request.body.rule_ids !== undefined) await checkRuleIds(store, input.rule_ids);
        const updated = await backend(STORE, () => store.updatePolicy(id, input));
        if (!updated) throw policyNotFound(id);
        return apiView(updated);
      },
    });
  }
  app.delete<{ Params: { id: string } }>(
    "/policies/:id",
    { schema: policyDeleteSchema },
    async (request, reply) => {
      const { id } = request.params;
      readOnly(id);
      const store = storeOf(ctx);
      if (!(await backend(STORE, () => store.deletePolicy(id)))) throw policyNotFound(id);
      return reply.code(204).send();
    },
  );

  app.post(
    "/policies/reload",
    {
      schema: policyReloadSchema,
      // No body is `{}`; a body is ignored.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async () => {
      const reload = ctx.reloadPolicies;
      if (!reload)
        throw new HttpError(
          409,
          "no_policy_file",
          "this server was not started from a policy file it can re-read",
        );
      let guardian: ServerContext["guardian"];
      try {
        guardian = await reload();
      } catch (err) {
        // An invalid file leaves the policies in force as they were.
        throw new HttpError(422, "invalid_policy_file", (err as Error).message, { cause: err });
      }
      ctx.guardian = guardian;
      return { reloaded: true, policies: guardian.listPolicies() };
    },
  );
}
