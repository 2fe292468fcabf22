// A Fastify 5 API whose routes are guarded by policies: listing is rate limited (429 with
// Retry-After), viewers may not create projects (403 problem+json), and deleting a project
// waits for an approver (202 with a token; the approved retry runs once).
// Install: `npm install hexarch-guardrails fastify`
// Run: `node fastify.ts` (Node.js 22.18+, with projects-tour.ts beside it); in this repository:
// `npx node examples/integrations/fastify.ts`
import Fastify, { type FastifyRequest } from "fastify";
import { Guardian, MemoryConfirmationStore } from "hexarch-guardrails";
import { guard } from "hexarch-guardrails/integrations/fastify";
import { POLICIES, projectsTour } from "./projects-tour.ts";

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

  try {
    await projectsTour((path, init) => fetch(`${base}${path}`, init), guardian, projects, log);
  } finally {
    await app.close();
    await guardian.close();
  }
}

if (import.meta.main) await main();
