/**
 * What the Node-RED tests share: a real `hexarch-ctl serve api` on SQLite with a policy file
 * holding a rate limit, a block rule, a confirmation rule and a budget, plus an approver's
 * API key made over its HTTP API.
 */

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ListeningServe, serveApi } from "../../../test/support/serve-process.ts";

export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const TOKEN = "node-red-test-token-0123456789abcdef";

export const POLICIES = `
policies:
  - id: limited
    rules: [{ resource: "*", requests_per_minute: 2, per: userId, action: block }]
  - id: ops
    rules:
      - { operation: drop_table, action: block }
      - { operation: delete, action: require_confirmation }
      - { resource: "*", action: allow }
  - id: openai_budget
    rules: [{ resource: openai, daily_budget: 1, action: block }]
`;

export interface Server {
  readonly serve: ListeningServe;
  readonly url: string;
  /** An API key with the `approve` scope: another principal than the nodes' static token. */
  readonly approverKey: string;
  /** `POST /approvals/:token/approve|deny` as the approver. */
  answer(token: string, verdict: "approve" | "deny"): Promise<Response>;
  close(): Promise<void>;
}

/** Starts `serve api` in a fresh directory (its SQLite database `decisions.db` there). */
export async function startServer(): Promise<Server> {
  const kids: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), "hexarch-node-red-"));
  writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
  const serve = await serveApi(["--log-level", "warn"], {
    cwd: dir,
    env: { HEXARCH_API_TOKEN: TOKEN, HEXARCH_API_KEY_ADMIN_ENABLED: "true" },
    children: kids,
    waitFor: "health",
  }).catch((err: unknown) => {
    for (const c of kids) c.kill("SIGKILL");
    throw err;
  });
  const made = await fetch(`${serve.url}/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "approver", scopes: ["approve"] }),
  });
  if (made.status !== 201) throw new Error(`POST /api-keys: ${made.status} ${await made.text()}`);
  const approverKey = ((await made.json()) as { key: string }).key;
  return {
    serve,
    url: serve.url,
    approverKey,
    answer: (token, verdict) =>
      fetch(`${serve.url}/approvals/${encodeURIComponent(token)}/${verdict}`, {
        method: "POST",
        headers: { authorization: `Bearer ${approverKey}` },
      }),
    async close() {
      for (const c of kids) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      await serve.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every 25 ms until it holds, or fails after `ms`. */
export async function until(check: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}
