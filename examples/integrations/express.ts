// An Express 5 API whose routes are guarded by policies: listing is rate limited (429 with
// Retry-After), viewers may not create projects (403 problem+json), and deleting a project
// waits for an approver (202 with a token; the approved retry runs once).
// Run: `npx node examples/integrations/express.ts` after `npm ci` (which builds dist/).
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import { Guardian, MemoryConfirmationStore } from "hexarch-guardrails";
import { guard } from "hexarch-guardrails/integrations/express";

const POLICIES = `
policies:
  - id: api_rate
    rules:
      - requests_per_minute: 3
        per: userId
        action: block
  - id: editors_only
    rules:
      - when: { field: role, operator: equals, value: viewer }
        action: block
        message: viewers cannot create projects
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
`;

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    confirmations: new MemoryConfirmationStore(),
  });
  const projects = new Set(["apollo", "gemini"]);
  // Who is asking: in a real app, from the session or a verified token.
  const who = (req: express.Request) => ({
    userId: req.get("x-user") ?? "anonymous",
    role: req.get("x-role") ?? "viewer",
  });

  const app = express();
  app.use(express.json()); // before the guards: the body is part of what a token approves
  app.get("/projects", guard(guardian, { policyId: "api_rate", context: who }), (_req, res) => {
    res.json([...projects]);
  });
  app.post("/projects", guard(guardian, { policyId: "editors_only", context: who }), (req, res) => {
    projects.add(String(req.body.name));
    res.status(201).json({ created: req.body.name });
  });
  app.delete(
    "/projects/:name",
    guard(guardian, { policyId: "safe_delete", context: who }),
    (req, res) => {
      projects.delete(req.params.name as string);
      res.status(204).end();
    },
  );

  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = (
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: unknown,
  ) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const alice = { "x-user": "alice", "x-role": "editor" };

  try {
    const statuses: string[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await call("GET", "/projects", alice);
      statuses.push(String(last.status));
    }
    log(
      `GET /projects x4 → ${statuses.join(", ")} (Retry-After: ${last?.headers.get("retry-after")} s, RateLimit-Policy: ${last?.headers.get("ratelimit-policy")})`,
    );

    const viewer = await call("POST", "/projects", { "x-user": "bob" }, { name: "mercury" });
    const problem = (await viewer.json()) as { title: string; reason: string };
    log(`POST /projects as a viewer → ${viewer.status} ${problem.title}: ${problem.reason}`);

    const first = await call("DELETE", "/projects/apollo", alice);
    const pending = (await first.json()) as { status: string; confirmationToken: string };
    log(`DELETE /projects/apollo → ${first.status} ${pending.status}`);

    // The approver (a person, through your approvals UI or hexarch-ctl serve api's /approvals).
    const record = await guardian.confirmations?.approve(pending.confirmationToken, {
      approvedBy: "lead@example.com",
    });
    log(`approver: ${record?.status} by ${record?.decidedBy}`);

    const token = { ...alice, "x-confirmation-token": pending.confirmationToken };
    log(
      `same token for /projects/gemini → ${(await call("DELETE", "/projects/gemini", token)).status}`,
    );
    log(
      `retry with X-Confirmation-Token → ${(await call("DELETE", "/projects/apollo", token)).status}`,
    );
    const replay = await call("DELETE", "/projects/apollo", token);
    log(`replayed → ${replay.status}: ${((await replay.json()) as { reason: string }).reason}`);
    log(`projects left: ${[...projects].join(", ")}`);
  } finally {
    server.closeAllConnections();
    server.close();
    await guardian.close();
  }
}

if (import.meta.main) await main();
