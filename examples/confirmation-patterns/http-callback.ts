// Pattern 3, HTTP callback confirmation (public APIs): a request that needs approval gets
// 202 Accepted with a token; the gateway POSTs a signed webhook to an approval service
// (Slack, a ticket system); the service answers with a signed callback that approves the
// token; the client retries with `X-Confirmation-Token` and the call runs once.
// Install: `npm install hexarch-guardrails`
// Run: `node http-callback.ts` (Node.js 22.18+; all on 127.0.0.1); in this repository:
// `npx node examples/confirmation-patterns/http-callback.ts`
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ConfirmationRequired,
  Guardian,
  HttpConfirmationGateway,
  MemoryConfirmationStore,
} from "hexarch-guardrails";

const POLICIES = `
policies:
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
`;
const SECRET = "shared-secret-between-api-and-approvals"; // from your secret manager

const read = (req: IncomingMessage) =>
  new Promise<string>((done) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => done(body));
  });

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const store = new MemoryConfirmationStore();
  const guardian = new Guardian({ policies: POLICIES, env: {}, confirmations: store });
  const projects = new Set(["apollo", "gemini"]);
  const deleteProject = guardian.check("safe_delete", { operation: "delete" })(
    async function deleteProject(name: string) {
      projects.delete(name);
    },
  );

  // The approval service: it approves whatever it is asked, after "a human" looked.
  let gateway: HttpConfirmationGateway;
  const approvals = createServer(async (req, res) => {
    const notice = JSON.parse(await read(req)) as { token: string; reason: string };
    log(`approval service got: ${notice.reason}`);
    res.writeHead(200).end();
    // Later, the human clicks "approve": the service calls the API back, signed.
    const body = JSON.stringify({
      token: notice.token,
      approved: true,
      decidedBy: "lead@example.com",
    });
    await fetch(`${apiUrl}/approvals`, {
      method: "POST",
      headers: gateway.signedHeaders(body),
      body,
    });
  });

  // The API: DELETE /projects/:name, and the callback route.
  const api = createServer(async (req, res) => {
    const body = await read(req);
    if (req.url === "/approvals") {
      try {
        const record = await gateway.applyCallback({ headers: req.headers, body });
        log(`callback: ${record.status} by ${record.decidedBy}`);
        res.writeHead(204).end();
      } catch (err) {
        res.writeHead(401).end((err as Error).message);
      }
      return;
    }
    const name = decodeURIComponent(req.url?.split("/")[2] ?? "");
    const token = req.headers["x-confirmation-token"];
    try {
      await guardian.withContext(
        typeof token === "string" ? { confirmationToken: token } : {},
        () => deleteProject(name),
      );
      res.writeHead(204).end();
    } catch (err) {
      if (!(err instanceof ConfirmationRequired) || token !== undefined) {
        res.writeHead(403, { "content-type": "application/problem+json" });
        res.end(JSON.stringify({ title: "refused", detail: (err as Error).message }));
        return;
      }
      const pending = await gateway.notifyPendingApproval({
        reason: err.reason,
        operation: `DELETE /projects/${name}`,
        ...(err.binding && { binding: err.binding }),
      });
      res.writeHead(202, { "content-type": "application/json", "x-confirmation-token": pending });
      res.end(JSON.stringify({ status: "pending_approval", confirmationToken: pending }));
    }
  });
  const listen = (s: typeof api) =>
    new Promise<string>((done) =>
      s.listen(0, "127.0.0.1", () => done(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
    );
  const apiUrl = await listen(api);
  const approvalsUrl = await listen(approvals);
  gateway = new HttpConfirmationGateway({
    webhookUrl: `${approvalsUrl}/hooks`,
    secret: SECRET,
    store,
  });

  try {
    const first = await fetch(`${apiUrl}/projects/apollo`, { method: "DELETE" });
    const { confirmationToken } = (await first.json()) as { confirmationToken: string };
    log(`DELETE /projects/apollo → ${first.status} (pending approval)`);
    // Wait for the approval service's callback to land.
    for (let i = 0; i < 50 && (await store.get(confirmationToken))?.status !== "approved"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const retry = await fetch(`${apiUrl}/projects/apollo`, {
      method: "DELETE",
      headers: { "x-confirmation-token": confirmationToken },
    });
    log(`retry with X-Confirmation-Token → ${retry.status}`);
    const replay = await fetch(`${apiUrl}/projects/gemini`, {
      method: "DELETE",
      headers: { "x-confirmation-token": confirmationToken },
    });
    log(`same token for /projects/gemini → ${replay.status}`);
    const forged = await fetch(`${apiUrl}/approvals`, {
      method: "POST",
      headers: { "x-hexarch-timestamp": String(Date.now()), "x-hexarch-signature": "v1=00" },
      body: JSON.stringify({ token: confirmationToken, approved: true, decidedBy: "mallory" }),
    });
    log(`forged callback → ${forged.status}`);
    log(`projects left: ${[...projects].join(", ")}`);
  } finally {
    api.close();
    approvals.close();
    await guardian.close();
  }
}

if (import.meta.main) await main();
