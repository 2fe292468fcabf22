// A Hono 4 API whose routes are guarded by policies: listing is rate limited (429 with
// Retry-After), viewers may not create projects (403 problem+json), and deleting a project
// waits for an approver (202 with a token; the approved retry runs once).
// Requests go through `app.request()` here; serve `app.fetch` with @hono/node-server, Bun,
// Deno or a Workers runtime in real use.
// Install: `npm install hexarch-guardrails hono`
// Run: `node hono.ts` (Node.js 22.18+, with projects-tour.ts beside it); in this repository:
// `npx node examples/integrations/hono.ts`

import { Guardian, MemoryConfirmationStore } from "hexarch-guardrails";
import { guard } from "hexarch-guardrails/integrations/hono";
import { type Context, Hono } from "hono";
import { POLICIES, projectsTour } from "./projects-tour.ts";

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    confirmations: new MemoryConfirmationStore(),
  });
  const projects = new Set(["apollo", "gemini"]);
  // Who is asking: in a real app, from the session or a verified token.
  const who = (c: Context) => ({
    userId: c.req.header("x-user") ?? "anonymous",
    role: c.req.header("x-role") ?? "viewer",
  });

  const app = new Hono();
  app.get("/projects", guard(guardian, { policyId: "api_rate", context: who }), (c) =>
    c.json([...projects]),
  );
  // The guard reads the raw body (a token approves it too); the handler can still read it.
  app.post("/projects", guard(guardian, { policyId: "editors_only", context: who }), async (c) => {
    const { name } = await c.req.json<{ name: string }>();
    projects.add(name);
    return c.json({ created: name }, 201);
  });
  app.delete("/projects/:name", guard(guardian, { policyId: "safe_delete", context: who }), (c) => {
    projects.delete(c.req.param("name") ?? "");
    return c.body(null, 204);
  });

  const base = "http://localhost";

  try {
    await projectsTour(
      (path, init) => app.request(`${base}${path}`, init),
      guardian,
      projects,
      log,
    );
  } finally {
    await guardian.close();
  }
}

if (import.meta.main) await main();
