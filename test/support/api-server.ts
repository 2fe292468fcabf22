/**
 * A decision server with API keys on, for the tests of what keys may do: SQLite stores for
 * keys, API policies and the audit log in one database file, the admin token, key admin
 * enabled, and a reload that reads the same policies again. Closed after each test.
 */

import type { FastifyInstance } from "fastify";
import {
  type ApiKeyStore,
  DecisionLogger,
  SqliteApiKeyStore,
  SqliteApiPolicyStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer, type ServerOptions } from "../../src/server/index.ts";

/** The methods the API answers. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What {@link keyedServer} builds on. */
export interface KeyedServerSetup {
  /** The SQLite file of every store. */
  readonly path: string;
  /** The policy document (YAML) the Guardian and its reloads use. */
  readonly policies: string;
  /** The admin token; `req` sends it unless given other headers. */
  readonly token: string;
  /** Where the closers go (see `closeAfterEach`). */
  readonly closers: (() => Promise<unknown>)[];
  /** The key store; a `SqliteApiKeyStore` on `path` when absent. */
  readonly keys?: ApiKeyStore;
  /** Server options over the defaults. */
  readonly options?: Partial<ServerOptions>;
}

/** Starts the server (not listening: use `req` or `app.inject`). */
export async function keyedServer(setup: KeyedServerSetup) {
  const { path, policies: yaml, token, closers } = setup;
  const keys = setup.keys ?? new SqliteApiKeyStore(path);
  const policies = new SqliteApiPolicyStore(path);
  const logger = new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false });
  const app: FastifyInstance = await createServer({
    guardian: new Guardian({ env: {}, policies: yaml, onWarn: () => {} }),
    auditLogger: logger,
    apiToken: token,
    logger: false,
    apiPolicies: policies,
    apiKeys: keys,
    apiKeyAdmin: true,
    reloadPolicies: () => new Guardian({ env: {}, policies: yaml, onWarn: () => {} }),
    ...setup.options,
  });
  closers.push(async () => {
    await app.close();
    await logger.close();
    await policies.close();
    await keys.close();
  });
  const admin = { authorization: `Bearer ${token}` };
  const req = (method: Method, url: string, headers: object = admin, payload?: unknown) =>
    app.inject({
      method,
      url,
      headers: { ...headers },
      ...(payload !== undefined && { payload: payload as object }),
    });
  return { app, logger, keys, req };
}
