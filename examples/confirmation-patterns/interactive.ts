// Pattern 1, interactive confirmation (CLI tools, local development): the workflow asks
// "Approve? (yes/no)" at the terminal and runs the function on yes. Without a terminal
// (a cron job, CI, a pipe) it refuses at once instead of waiting for an answer.
// Install: `npm install hexarch-guardrails`
// Run: `node interactive.ts` (Node.js 22.18+) and answer at the prompt; in this repository:
// `npx node examples/confirmation-patterns/interactive.ts`
import {
  ConfirmationRequired,
  ConfirmationWorkflow,
  Guardian,
  MemoryConfirmationStore,
  type WorkflowTerminal,
} from "hexarch-guardrails";

const POLICIES = `
policies:
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
`;

export async function main(
  log: (line: string) => void = console.log,
  terminal?: WorkflowTerminal,
): Promise<void> {
  const guardian = new Guardian({ policies: POLICIES, env: {} });
  const workflow = new ConfirmationWorkflow(guardian, new MemoryConfirmationStore(), {
    ...(terminal && { terminal }),
  });
  const users = new Set(["u-1001", "u-1002"]);
  async function deleteUser(id: string): Promise<string> {
    users.delete(id);
    return `deleted ${id}`;
  }
  try {
    const r = await workflow.executeWithConfirmation({
      policyId: "safe_delete",
      fn: deleteUser,
      args: ["u-1001"],
      context: { operation: "delete" },
      interactive: true,
      requestedBy: "ops@example.com",
    });
    if (r.status === "executed") log(`approved at the terminal: ${r.result}`);
  } catch (err) {
    if (!(err instanceof ConfirmationRequired)) throw err;
    log(`refused: ${err.message}`);
  }
  log(`users left: ${[...users].join(", ")}`);
  await guardian.close();
}

if (import.meta.main) await main();
