// What the three framework examples share: the policies, and the client's side of the story
// (a burst of reads, a viewer's write, a delete that waits for an approver), sent through
// whichever way the example reaches its app (fetch to a listening server, or Hono's
// app.request).
import type { Guardian } from "hexarch-guardrails";

export const POLICIES = `
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

/** Sends one request to the example's app: the path and init of a `fetch`. */
export type Send = (path: string, init: RequestInit) => Response | Promise<Response>;

/** Plays the client's side against the app `send` reaches, logging each answer. */
export async function projectsTour(
  send: Send,
  guardian: Guardian,
  projects: ReadonlySet<string>,
  log: (line: string) => void,
): Promise<void> {
  const call = async (
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: unknown,
  ) =>
    send(path, {
      method,
      headers: { ...headers, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const alice = { "x-user": "alice", "x-role": "editor" };

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
}
