// A Fastify 5 API whose routes are guarded by policies: listing is rate limited (429 with
// Retry-After), viewers may not create projects (403 problem+json), and deleting a project
// waits for an approver (202 with a token; the approved retry runs once).
// Run: `npx node examples/integrations/express.ts` after `npm ci` (which builds dist/).
import Fastify, { type FastifyRequest } from "fastify";
import { Guardian, MemoryConfirmationStore } from "hexarch-guardrails";
import { guard } from "hexarch-guardrails/integrations/fastify";

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
  const who = (req: FastifyRequest) => ({
    userId: String(req.headers["x-user"] ?? "anonymous"),
    role: String(req.headers["x-role"] ?? "viewer"),
  });

  const app = Fastify();
  // preHandler hooks run after Fastify parsed the body: it is part of what a token approves.
  app.get(
    "/projects",
    { preHandler: guard(guardian, { policyId: "api_rate", context: who }) },
    () => [...projects],
  );
  app.post<{ Body: { name: string } }>(
    "/projects",
    { preHandler: guard(guardian, { policyId: "editors_only", context: who }) },
    async (req, reply) => {
      projects.add(req.body.name);
      return reply.code(201).send({ created: req.body.name });
    },
  );
  app.delete<{ Params: { name: string } }>(
    "/projects/:name",
    { preHandler: guard(guardian, { policyId: "safe_delete", context: who }) },
    async (req, reply) => {
      projects.delete(req.params.name);
      return reply.code(204).send();
    },
  );

  const base = await app.listen({ port: 0, host: "127.0.0.1" });
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
    await app.close();
    await guardian.close();
  }
}

if (import.meta.main) await main();
