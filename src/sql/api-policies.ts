/**
 * The logic both SQL stores of API-defined rules and policies share; a dialect supplies
 * only a way to run a statement.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import type {
  ApiFailureMode,
  ApiPolicy,
  ApiPolicyInput,
  ApiPolicyScope,
  ApiPolicyStore,
  ApiRule,
  ApiRuleInput,
} from "../api-policies/types.ts";
import type { SqlRunner } from "./confirmations.ts";

type Row = Record<string, unknown>;

const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : String(v);

function toRule(row: Row): ApiRule {
  return {
    id: String(row.id),
    name: String(row.name),
    description: textOrNull(row.description),
    rule_type: String(row.rule_type),
    priority: Number(row.priority),
    enabled: Number(row.enabled) !== 0,
    condition: JSON.parse(String(row.condition)) as Record<string, unknown>,
    created_at: String(row.created_at),
    updated_at: String(row.updated_at),
  };
}

function toPolicy(row: Row): ApiPolicy {
  return {
    id: String(row.id),
    name: String(row.name),
    description: textOrNull(row.description),
    scope: String(row.scope) as ApiPolicyScope,
    scope_value: textOrNull(row.scope_value),
    failure_mode: String(row.failure_mode) as ApiFailureMode,
    enabled: Number(row.enabled) !== 0,
    rule_ids: JSON.parse(String(row.rule_ids)) as string[],
    created_at: String(row.created_at),
    updated_at: String(row.updated_at),
  };
}

/** Rules and policies over two tables; each dialect's store wraps one. */
export class SqlApiPolicies implements ApiPolicyStore {
  readonly #rules: string;
  readonly #policies: string;
  readonly #db: SqlRunner;
  readonly #clock: () => number;
  readonly #close: () => Promise<void>;

  /**
   * @param prefix Put before each table name (a quoted schema and a dot, or nothing).
   * @param db Runs the statements.
   * @param close Releases the connection.
   */
  constructor(prefix: string, db: SqlRunner, close: () => Promise<void>, clock = Date.now) {
    this.#rules = `${prefix}hexarch_api_rules`;
    this.#policies = `${prefix}hexarch_api_policies`;
    this.#db = db;
    this.#clock = clock;
    this.#close = close;
  }

  #now(): string {
    return new Date(this.#clock()).toISOString();
  }

  async listRules(): Promise<ApiRule[]> {
    const rows = await this.#db.all(
      `SELECT * FROM ${this.#rules} ORDER BY priority, created_at, id`,
      [],
    );
    return rows.map(toRule);
  }

  async getRule(id: string): Promise<ApiRule | undefined> {
    const row = (await this.#db.all(`SELECT * FROM ${this.#rules} WHERE id = ?`, [id]))[0];
    return row && toRule(row);
  }

  async getRules(ids: readonly string[]): Promise<ApiRule[]> {
    if (ids.length === 0) return [];
    const unique = [...new Set(ids)];
    const rows = await this.#db.all(
      `SELECT * FROM ${this.#rules} WHERE id IN (${unique.map(() => "?").join(", ")})`,
      unique,
    );
    return rows.map(toRule);
  }

  async createRule(input: ApiRuleInput): Promise<ApiRule> {
    const now = this.#now();
    // Only the input's fields: a stored rule passed back in keeps none of its id or times.
    const rule: ApiRule = {
      id: randomUUID(),
      name: input.name,
      description: input.description,
      rule_type: input.rule_type,
      priority: input.priority,
      enabled: input.enabled,
      condition: input.condition,
      created_at: now,
      updated_at: now,
    };
    await this.#db.run(
      `INSERT INTO ${this.#rules} (id, name, description, rule_type, priority, enabled, condition, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        rule.id,
        rule.name,
        rule.description,
        rule.rule_type,
        rule.priority,
        rule.enabled ? 1 : 0,
        JSON.stringify(rule.condition),
        now,
        now,
      ],
    );
    return rule;
  }

  async updateRule(id: string, input: ApiRuleInput): Promise<ApiRule | undefined> {
    const rows = await this.#db.all(
      `UPDATE ${this.#rules} SET name = ?, description = ?, rule_type = ?, priority = ?, enabled = ?, condition = ?, updated_at = ? WHERE id = ? RETURNING *`,
      [
        input.name,
        input.description,
        input.rule_type,
        input.priority,
        input.enabled ? 1 : 0,
        JSON.stringify(input.condition),
        this.#now(),
        id,
      ],
    );
    const row = rows[0];
    return row && toRule(row);
  }

  async deleteRule(id: string): Promise<boolean> {
    return (await this.#db.run(`DELETE FROM ${this.#rules} WHERE id = ?`, [id])) > 0;
  }

  async listPolicies(): Promise<ApiPolicy[]> {
    const rows = await this.#db.all(`SELECT * FROM ${this.#policies} ORDER BY created_at, id`, []);
    return rows.map(toPolicy);
  }

  async getPolicy(id: string): Promise<ApiPolicy | undefined> {
    const row = (await this.#db.all(`SELECT * FROM ${this.#policies} WHERE id = ?`, [id]))[0];
    return row && toPolicy(row);
  }

  async createPolicy(input: ApiPolicyInput): Promise<ApiPolicy> {
    const now = this.#now();
    const policy: ApiPolicy = {
      id: randomUUID(),
      name: input.name,
      description: input.description,
      scope: input.scope,
      scope_value: input.scope_value,
      failure_mode: input.failure_mode,
      enabled: input.enabled,
      rule_ids: [...input.rule_ids],
      created_at: now,
      updated_at: now,
    };
    await this.#db.run(
      `INSERT INTO ${this.#policies} (id, name, description, scope, scope_value, failure_mode, enabled, rule_ids, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        policy.id,
        policy.name,
        policy.description,
        policy.scope,
        policy.scope_value,
        policy.failure_mode,
        policy.enabled ? 1 : 0,
        JSON.stringify(policy.rule_ids),
        now,
        now,
      ],
    );
    return policy;
  }

  async updatePolicy(id: string, input: ApiPolicyInput): Promise<ApiPolicy | undefined> {
    const rows = await this.#db.all(
      `UPDATE ${this.#policies} SET name = ?, description = ?, scope = ?, scope_value = ?, failure_mode = ?, enabled = ?, rule_ids = ?, updated_at = ? WHERE id = ? RETURNING *`,
      [
        input.name,
        input.description,
        input.scope,
        input.scope_value,
        input.failure_mode,
        input.enabled ? 1 : 0,
        JSON.stringify(input.rule_ids),
        this.#now(),
        id,
      ],
    );
    const row = rows[0];
    return row && toPolicy(row);
  }

  async deletePolicy(id: string): Promise<boolean> {
    return (await this.#db.run(`DELETE FROM ${this.#policies} WHERE id = ?`, [id])) > 0;
  }

  close(): Promise<void> {
    return this.#close();
  }
}
