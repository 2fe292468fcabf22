// Pattern 2, token-based confirmation (microservices, background jobs): the first call
// answers { status: "pending_approval", token }; an approver approves the token elsewhere
// (an admin UI, a chat command); the retry with the token runs the function once. The
// token is bound to the policy and the arguments, expires, and works a single time.
// Install: `npm install hexarch-guardrails`
// Run: `node token.ts` (Node.js 22.18+); in this repository:
// `npx node examples/confirmation-patterns/token.ts`
import { ConfirmationWorkflow, Guardian, MemoryConfirmationStore } from "hexarch-guardrails";

const POLICIES = `
policies:
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
`;

export async function main(log: (line: string) => void = console.log): Promise<void> {
  // One store shared by the service and the approver (RedisConfirmationStore or the SQL
  // stores of hexarch-guardrails/audit when they run in different processes).
  const store = new MemoryConfirmationStore({ ttlMs: 10 * 60_000 });
  const guardian = new Guardian({ policies: POLICIES, env: {} });
  const workflow = new ConfirmationWorkflow(guardian, store);
  const accounts = new Map([
    ["acct-7", { owner: "dana" }],
    ["acct-8", { owner: "eli" }],
  ]);
  async function closeAccount(id: string): Promise<string> {
    accounts.delete(id);
    return `closed ${id}`;
  }
  const request = {
    policyId: "safe_delete",
    fn: closeAccount,
    args: ["acct-7"] as [string],
    context: { operation: "delete" },
    requestedBy: "billing-service",
  };

  // 1. The service asks: nothing runs yet.
  const first = await workflow.executeWithConfirmation(request);
  if (first.status !== "pending_approval") throw new Error("expected to wait for approval");
  log(`pending approval: ${first.reason}`);
  log(`accounts: ${[...accounts.keys()].join(", ")}`);

  // 2. An approver looks at the request and approves it.
  const pending = await store.get(first.token);
  log(
    `approver sees: ${pending?.operation} requested by ${pending?.requestedBy}, ${pending?.status}`,
  );
  store.approve(first.token, {
    approvedBy: "lead@example.com",
    reason: "customer asked, ticket 4411",
  });

  // 3. The token cannot close another account...
  await workflow
    .executeWithConfirmation({ ...request, args: ["acct-8"], token: first.token })
    .catch((err: Error) => log(`refused for acct-8: ${err.message.split("; ")[1]}`));

  // 4. ...but the retry of the approved call runs, once.
  const second = await workflow.executeWithConfirmation({ ...request, token: first.token });
  if (second.status === "executed") log(`executed: ${second.result}`);
  await workflow
    .executeWithConfirmation({ ...request, token: first.token })
    .catch((err: Error) => log(`replayed for acct-7: ${err.message.split("; ")[1]}`));
  log(`accounts: ${[...accounts.keys()].join(", ")}`);
  await guardian.close();
}

if (import.meta.main) await main();
