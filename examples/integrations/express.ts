// An Express 5 API whose routes are guarded by policies: listing is rate limited (429 with
// Retry-After), viewers may not create projects (403 problem+json), and deleting a project
// waits for an approver (202 with a token; the approved retry runs once).
// Install: `npm install hexarch-guardrails express`
// Run: `node express.ts` (Node.js 22.18+, with projects-tour.ts beside it); in this repository:
// `npx node examples/integrations/express.ts`
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import { Guardian, MemoryConfirmationStore } from "hexarch-guardrails";
import { guard } from "hexarch-guardrails/integrations/express";
import { POLICIES, projectsTour } from "./projects-tour.ts";

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

  try {
    await projectsTour((path, init) => fetch(`${base}${path}`, init), guardian, projects, log);
  } finally {
    server.closeAllConnections();
    server.close();
    await guardian.close();
  }
}

if (import.meta.main) await main();
