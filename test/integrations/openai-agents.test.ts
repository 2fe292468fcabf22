import {
  Agent,
  type AgentOutputItem,
  type Model,
  type ModelRequest,
  type ModelResponse,
  Runner,
  setTracingDisabled,
  tool,
  Usage,
} from "@openai/agents";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type DecisionEntry, Guardian } from "../../src/index.ts";
import { guardTool } from "../../src/integrations/openai-agents/index.ts";

beforeAll(() => setTracingDisabled(true));

const POLICIES = `
policies:
  - id: safe_delete
    rules:
      - { resource: delete_user, action: require_confirmation }
      - resource: delete_user
        when: { field: args.id, op: eq, value: "root" }
        action: block
        message: the root account is never deleted
  - id: lookups
    rules:
      - { resource: lookup, requests_per_hour: 2, action: block }
      - { resource: lookup, max_tokens_per_day: 1000, action: block }
`;

/**
 * A model (the SDK's `Model` interface, its extension point for other providers) that
 * asks for one tool call per turn from a script, then answers with text once the script
 * is done. Each turn reports the usage it is given.
 */
class ScriptedModel implements Model {
  readonly requests: ModelRequest[] = [];
  #turn = 0;
  readonly calls: readonly { name: string; args: Record<string, unknown> }[];
  readonly tokensPerTurn: number;
  constructor(calls: ScriptedModel["calls"], tokensPerTurn = 100) {
    this.calls = calls;
    this.tokensPerTurn = tokensPerTurn;
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const call = this.calls[this.#turn];
    const turn = this.#turn++;
    const output: AgentOutputItem[] = call
      ? [
          {
            type: "function_call",
            callId: `call_${turn}`,
            name: call.name,
            arguments: JSON.stringify(call.args),
            status: "completed",
          },
        ]
      : [
          {
            type: "message",
            role: "assistant",
            status: "completed",
            content: [{ type: "output_text", text: "done" }],
          },
        ];
    const t = this.tokensPerTurn;
    return {
      usage: new Usage({ requests: 1, inputTokens: t / 2, outputTokens: t / 2, totalTokens: t }),
      output,
    };
  }

  getStreamedResponse(): AsyncIterable<never> {
    throw new Error("not used");
  }
}

function setup(calls: ScriptedModel["calls"], tokensPerTurn?: number) {
  const entries: DecisionEntry[] = [];
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    auditLogger: { record: (e) => void entries.push(e) },
  });
  const ran: string[] = [];
  const deleteUser = guardTool(
    tool({
      name: "delete_user",
      description: "Deletes a user account",
      parameters: z.object({ id: z.string() }),
      execute: async ({ id }) => {
        ran.push(`delete ${id}`);
        return `deleted ${id}`;
      },
    }),
    guardian,
    { policyId: "safe_delete" },
  );
  const lookup = guardTool(
    tool({
      name: "lookup",
      description: "Looks a user up",
      parameters: z.object({ id: z.string() }),
      execute: async ({ id }) => {
        ran.push(`lookup ${id}`);
        return `user ${id}`;
      },
    }),
    guardian,
    { policyId: "lookups" },
  );
  const model = new ScriptedModel(calls, tokensPerTurn);
  const agent = new Agent({ name: "admin", model, tools: [deleteUser, lookup] });
  const runner = new Runner({ tracingDisabled: true });
  /** What the model was told each tool call gave (the function_call_result items). */
  const toolOutputs = () =>
    ((model.requests.at(-1)?.input ?? []) as { type?: string; output?: { text?: string } }[])
      .filter((i) => i.type === "function_call_result")
      .map((i) => i.output?.text);
  return { agent, runner, ran, entries, model, toolOutputs };
}

describe("guardTool (OpenAI Agents SDK)", () => {
  it("interrupts the run for a person's approval when the policy asks, and runs the call once approved", async () => {
    const h = setup([{ name: "delete_user", args: { id: "u42" } }]);
    let result = await h.runner.run(h.agent, "remove user u42");
    expect(result.interruptions.map((i) => i.name)).toEqual(["delete_user"]);
    expect(h.ran).toEqual([]);
    for (const item of result.interruptions) result.state.approve(item);
    result = await h.runner.run(h.agent, result.state);
    expect(result.finalOutput).toBe("done");
    expect(h.ran).toEqual(["delete u42"]);
    // The story in the log: confirmation asked, then the confirmed call allowed.
    expect(h.entries.map((e) => [e.functionName, e.decision.action])).toEqual([
      ["delete_user", "require_confirmation"],
      ["delete_user", "allow"],
    ]);
    expect(h.entries[1]?.context).toMatchObject({ confirm: true, args: { id: "u42" } });
  });

  it("does not run a call the person rejected", async () => {
    const h = setup([{ name: "delete_user", args: { id: "u42" } }]);
    let result = await h.runner.run(h.agent, "remove user u42");
    for (const item of result.interruptions) result.state.reject(item);
    result = await h.runner.run(h.agent, result.state);
    expect(h.ran).toEqual([]);
    expect(result.finalOutput).toBe("done");
  });

  it("refuses a blocked call without running it, and tells the model why", async () => {
    const h = setup([{ name: "delete_user", args: { id: "root" } }]);
    const result = await h.runner.run(h.agent, "remove root");
    expect(result.interruptions).toEqual([]);
    expect(h.ran).toEqual([]);
    expect(h.toolOutputs()).toEqual([expect.stringContaining("the root account is never deleted")]);
  });

  it("decides each call once, and holds rate limits across an agent's calls", async () => {
    const h = setup([
      { name: "lookup", args: { id: "a" } },
      { name: "lookup", args: { id: "b" } },
      { name: "lookup", args: { id: "c" } },
    ]);
    await h.runner.run(h.agent, "look three users up");
    expect(h.ran).toEqual(["lookup a", "lookup b"]);
    expect(h.entries.map((e) => e.decision.action)).toEqual(["allow", "allow", "block"]);
    expect(h.toolOutputs().at(-1)).toMatch(/limit of 2 requests per hour/);
  });

  it("counts the run's model tokens against the policy's token budget", async () => {
    // 400 tokens a turn: after the third turn 1,200 tokens are counted, past the 1,000 budget.
    const h = setup(
      [
        { name: "lookup", args: { id: "a" } },
        { name: "lookup", args: { id: "b" } },
      ],
      400,
    );
    await h.runner.run(h.agent, "look two users up");
    // Turn 1: 400 counted, call a allowed. Turn 2: 800 counted, call b allowed.
    expect(h.ran).toEqual(["lookup a", "lookup b"]);
    const h2 = setup(
      [
        { name: "lookup", args: { id: "a" } },
        { name: "lookup", args: { id: "b" } },
      ],
      600,
    );
    await h2.runner.run(h2.agent, "look two users up");
    // Turn 1: 600 counted, allowed. Turn 2: 1,200 counted: the budget is spent.
    expect(h2.ran).toEqual(["lookup a"]);
    expect(h2.toolOutputs().at(-1)).toMatch(/token/);
  });
});

describe("examples/integrations/openai-agents.ts", () => {
  it("stops the run for approval, then deletes once approved", async () => {
    const { main } = await import("../../examples/integrations/openai-agents.ts");
    const lines: string[] = [];
    await main((line) => void lines.push(line));
    expect(lines).toEqual([
      'the run stopped for approval: delete_user {"id":"u42"}',
      "a person approves it",
      "  (delete_user ran for u42)",
      "final answer: User u42 is gone.",
    ]);
  });
});

describe("guardTool with decisions made elsewhere", () => {
  it("still runs tools when the Guardian cannot count the run's usage (a remote decision client)", async () => {
    const guardian = new Guardian({
      env: {},
      decisionClient: {
        checkPolicy: async () => ({ allowed: true, reason: "ok", action: "allow" }),
      },
    });
    const ran: string[] = [];
    const lookup = guardTool(
      tool({
        name: "lookup",
        description: "Looks a user up",
        parameters: z.object({ id: z.string() }),
        execute: async ({ id }) => {
          ran.push(id);
          return `user ${id}`;
        },
      }),
      guardian,
      { policyId: "remote_policy" },
    );
    const model = new ScriptedModel([
      { name: "lookup", args: { id: "a" } },
      { name: "lookup", args: { id: "b" } },
    ]);
    const agent = new Agent({ name: "remote", model, tools: [lookup] });
    const result = await new Runner({ tracingDisabled: true }).run(agent, "look up a and b");
    expect(result.finalOutput).toBe("done");
    expect(ran).toEqual(["a", "b"]);
  });
});
