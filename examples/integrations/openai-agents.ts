// An OpenAI Agents SDK agent whose tools are guarded by policies: lookups are rate limited
// and count the run's model tokens against a daily budget; deleting an account interrupts
// the run until a person approves it.
// The agent's model here is a scripted stand-in (the SDK's `Model` interface) so the
// example runs offline; in real use it is the default OpenAI model.
// Install: `npm install hexarch-guardrails @openai/agents zod`
// Run: `node openai-agents.ts` (Node.js 22.18+); in this repository:
// `npx node examples/integrations/openai-agents.ts`
import {
  Agent,
  type AgentOutputItem,
  type Model,
  type ModelResponse,
  Runner,
  tool,
  Usage,
} from "@openai/agents";
import { Guardian } from "hexarch-guardrails";
import { guardTool } from "hexarch-guardrails/integrations/openai-agents";
import { z } from "zod";

const POLICIES = `
policies:
  - id: lookups
    rules:
      - { resource: lookup_user, requests_per_minute: 10, action: block }
      - { resource: lookup_user, max_tokens_per_day: 50000, action: block }
  - id: safe_delete
    rules:
      - { resource: delete_user, action: require_confirmation }
`;

/** Asks for a lookup, then a deletion, then answers: what a real model might do. */
class ScriptedModel implements Model {
  #turn = 0;
  async getResponse(): Promise<ModelResponse> {
    const turn = this.#turn++;
    const call = (name: string, args: object): AgentOutputItem => ({
      type: "function_call",
      callId: `call_${turn}`,
      name,
      arguments: JSON.stringify(args),
      status: "completed",
    });
    const output: AgentOutputItem[] =
      turn === 0
        ? [call("lookup_user", { email: "old@example.com" })]
        : turn === 1
          ? [call("delete_user", { id: "u42" })]
          : [
              {
                type: "message",
                role: "assistant",
                status: "completed",
                content: [{ type: "output_text", text: "User u42 is gone." }],
              },
            ];
    return {
      usage: new Usage({ requests: 1, inputTokens: 900, outputTokens: 100, totalTokens: 1000 }),
      output,
    };
  }
  getStreamedResponse(): AsyncIterable<never> {
    throw new Error("this example does not stream");
  }
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const guardian = new Guardian({ policies: POLICIES, env: {} });
  const lookupUser = guardTool(
    tool({
      name: "lookup_user",
      description: "Finds a user by email",
      parameters: z.object({ email: z.string() }),
      execute: async ({ email }) => `user u42 <${email}>`,
    }),
    guardian,
    { policyId: "lookups" },
  );
  const deleteUser = guardTool(
    tool({
      name: "delete_user",
      description: "Deletes a user account",
      parameters: z.object({ id: z.string() }),
      execute: async ({ id }) => {
        log(`  (delete_user ran for ${id})`);
        return `deleted ${id}`;
      },
    }),
    guardian,
    { policyId: "safe_delete" },
  );
  const agent = new Agent({
    name: "admin",
    instructions: "You manage user accounts.",
    model: new ScriptedModel(),
    tools: [lookupUser, deleteUser],
  });
  const runner = new Runner({ tracingDisabled: true });

  let result = await runner.run(agent, "Delete the account of old@example.com");
  for (const item of result.interruptions) {
    log(`the run stopped for approval: ${item.name} ${item.arguments}`);
    log("a person approves it");
    result.state.approve(item);
  }
  result = await runner.run(agent, result.state);
  log(`final answer: ${result.finalOutput}`);
  await guardian.close();
}

if (import.meta.main) await main();
