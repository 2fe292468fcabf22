import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer, type RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type CallToolResult, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type DecisionEntry, Guardian, GuardrailError } from "../../src/index.ts";
import { DECISION_META_KEY, guardMcpServer } from "../../src/integrations/mcp/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

const POLICIES = `
policies:
  - id: tools
    rules:
      - { resource: "*", requests_per_minute: 3, action: block }
      - resource: write_file
        when: { field: args.path, op: starts_with, value: /etc/ }
        action: block
        message: system files are off limits
  - id: safe_delete
    rules:
      - { resource: delete_file, action: require_confirmation }
`;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Elicit = (message: string) => { action: "accept" | "decline" | "cancel"; confirm?: boolean };

async function harness(
  opts: { elicit?: Elicit; confirm?: "elicit" | "refuse"; registerFirst?: boolean } = {},
) {
  const entries: DecisionEntry[] = [];
  const clock = new ManualClock("2026-11-25T12:00:00Z");
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    clock: clock.now,
    auditLogger: { record: (e) => void entries.push(e) },
  });
  const ran: string[] = [];
  const server = new McpServer({ name: "files", version: "1.0.0" });
  const tools = new Map<string, RegisteredTool>();
  const register = () => {
    tools.set(
      "write_file",
      server.registerTool(
        "write_file",
        { inputSchema: { path: z.string(), text: z.string() } },
        async ({ path }) => {
          ran.push(`write ${path}`);
          return { content: [{ type: "text", text: `wrote ${path}` }] };
        },
      ),
    );
    server.registerTool("delete_file", { inputSchema: { path: z.string() } }, async ({ path }) => {
      ran.push(`delete ${path}`);
      return { content: [{ type: "text", text: `deleted ${path}` }] };
    });
    server.registerTool("whoami", {}, async () => {
      ran.push("whoami");
      return { content: [{ type: "text", text: "me" }] };
    });
  };
  if (opts.registerFirst) register();
  guardMcpServer(server, guardian, {
    policyId: { delete_file: "safe_delete", "*": "tools" },
    ...(opts.confirm !== undefined && { confirm: opts.confirm }),
  });
  if (!opts.registerFirst) register();

  const asked: string[] = [];
  const client = new Client(
    { name: "test-client", version: "1.0.0" },
    { capabilities: opts.elicit ? { elicitation: {} } : {} },
  );
  if (opts.elicit) {
    const elicit = opts.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      const message = request.params.message;
      asked.push(message);
      const a = elicit(message);
      return a.action === "accept"
        ? { action: "accept", content: { confirm: a.confirm ?? false } }
        : { action: a.action };
    });
  }
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  closers.push(async () => {
    await client.close();
    await server.close();
  });
  const call = async (name: string, args?: Record<string, unknown>) =>
    (await client.callTool({ name, ...(args && { arguments: args }) })) as CallToolResult;
  const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;
  return { call, text, ran, entries, asked, clock, tools };
}

describe("guardMcpServer", () => {
  it("runs allowed tools and answers a refused call with a tool error the model can read", async () => {
    const h = await harness();
    const ok = await h.call("write_file", { path: "/tmp/a", text: "hi" });
    expect(ok.isError).toBeFalsy();
    expect(h.text(ok)).toBe("wrote /tmp/a");

    const refused = await h.call("write_file", { path: "/etc/passwd", text: "x" });
    expect(refused.isError).toBe(true);
    expect(h.text(refused)).toContain("The tool 'write_file' did not run. Policy 'tools' blocked");
    expect(h.text(refused)).toContain("system files are off limits");
    expect(refused._meta?.[DECISION_META_KEY]).toMatchObject({
      policyId: "tools",
      action: "block",
    });
    expect(h.ran).toEqual(["write /tmp/a"]);
    // Decisions are recorded with the tool as function name and its arguments in the context.
    expect(h.entries.map((e) => [e.functionName, e.decision.action])).toEqual([
      ["write_file", "allow"],
      ["write_file", "block"],
    ]);
    expect(h.entries[1]?.context).toMatchObject({
      resource: "write_file",
      tool: "write_file",
      args: { path: "/etc/passwd" },
    });
  });

  it("holds a rate limit across tools, including tools without an input schema", async () => {
    const h = await harness();
    for (let i = 0; i < 3; i++) expect((await h.call("whoami")).isError).toBeFalsy();
    const fourth = await h.call("whoami");
    expect(fourth.isError).toBe(true);
    expect(h.text(fourth)).toMatch(/limit of 3/);
    expect(h.ran).toEqual(["whoami", "whoami", "whoami"]);
    h.clock.advance(61_000);
    expect((await h.call("whoami")).isError).toBeFalsy();
  });

  it("asks the client's user through elicitation, and runs the tool only on a yes", async () => {
    let yes = false;
    const h = await harness({ elicit: () => ({ action: "accept", confirm: yes }) });
    const declined = await h.call("delete_file", { path: "/srv/a" });
    expect(declined.isError).toBe(true);
    expect(h.text(declined)).toContain("the user did not confirm it");
    expect(h.asked[0]).toContain("delete_file");
    expect(h.asked[0]).toContain('"/srv/a"');
    yes = true;
    const done = await h.call("delete_file", { path: "/srv/a" });
    expect(h.text(done)).toBe("deleted /srv/a");
    expect(h.ran).toEqual(["delete /srv/a"]);
    expect(h.entries.at(-1)?.context).toMatchObject({ confirm: true, tool: "delete_file" });
  });

  it("refuses a call needing confirmation when the client cannot be asked, or when told to", async () => {
    const noElicitation = await harness();
    const r = await noElicitation.call("delete_file", { path: "/srv/a" });
    expect(r.isError).toBe(true);
    expect(noElicitation.text(r)).toContain("requires confirmation");
    expect(noElicitation.text(r)).toContain("cannot ask its user");
    const refuse = await harness({
      confirm: "refuse",
      elicit: () => ({ action: "accept", confirm: true }),
    });
    expect((await refuse.call("delete_file", { path: "/srv/a" })).isError).toBe(true);
    expect(refuse.asked).toEqual([]);
    expect([...noElicitation.ran, ...refuse.ran]).toEqual([]);
  });

  it("guards tools registered before the call and callbacks replaced with update()", async () => {
    const h = await harness({ registerFirst: true });
    const r = await h.call("write_file", { path: "/etc/hosts", text: "x" });
    expect(r.isError).toBe(true);
    expect(h.ran).toEqual([]);
    h.tools.get("write_file")?.update({
      callback: async (args) => {
        h.ran.push(`new write ${String(args.path)}`);
        return { content: [{ type: "text", text: "new" }] };
      },
    });
    expect((await h.call("write_file", { path: "/etc/hosts", text: "x" })).isError).toBe(true);
    expect(h.text(await h.call("write_file", { path: "/tmp/b", text: "x" }))).toBe("new");
    expect(h.ran).toEqual(["new write /tmp/b"]);
  });

  it("refuses to register a tool no policy covers", () => {
    const guardian = new Guardian({ policies: POLICIES, env: {} });
    const server = guardMcpServer(new McpServer({ name: "s", version: "1" }), guardian, {
      policyId: { delete_file: "safe_delete" },
    });
    const register = () => server.registerTool("other", {}, async () => ({ content: [] }));
    expect(register).toThrow(GuardrailError);
    // Nothing was registered by the refused call: the second attempt is refused the same way.
    expect(register).toThrow(/tool 'other' has no policy/);
  });
});

describe("examples/integrations/mcp.ts", () => {
  it("reads, refuses /etc, and deletes only what the client's user approved", async () => {
    const { main } = await import("../../examples/integrations/mcp.ts");
    const lines: string[] = [];
    await main((line) => void lines.push(line));
    const outcomes = lines.filter((l) => !l.startsWith("  ")).map((l) => l.split(" — ")[0]);
    expect(outcomes).toEqual([
      "read_file /srv/report.txt: ran",
      "read_file /etc/shadow: refused",
      "delete_file /srv/tmp/cache.bin: ran",
      "delete_file /srv/report.txt: refused",
    ]);
    expect(lines.filter((l) => l.includes("the client asks its user"))).toHaveLength(2);
  });
});

describe("guardMcpServer confirmation scope", () => {
  it("confirms the approved tool's own decision, not the guarded calls its handler makes", async () => {
    const guardian = new Guardian({
      env: {},
      policies: `
policies:
  - id: safe_delete
    rules: [{ resource: delete_file, action: require_confirmation }]
  - id: wipe
    rules: [{ action: require_confirmation }]
`,
    });
    const wipeAll = guardian.check("wipe")(async () => "WIPED");
    const server = guardMcpServer(new McpServer({ name: "s", version: "1" }), guardian, {
      policyId: "safe_delete",
    });
    server.registerTool("delete_file", { inputSchema: { path: z.string() } }, async () => {
      const inner = await wipeAll().catch((e: unknown) => (e as Error).constructor.name);
      return { content: [{ type: "text", text: String(inner) }] };
    });
    const client = new Client({ name: "c", version: "1" }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: "accept",
      content: { confirm: true },
    }));
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    await client.connect(a);
    try {
      const r = (await client.callTool({
        name: "delete_file",
        arguments: { path: "/x" },
      })) as CallToolResult;
      // The user approved delete_file; the wipe inside it still needs its own confirmation.
      expect((r.content[0] as { text: string }).text).toBe("ConfirmationRequired");
    } finally {
      await client.close();
      await server.close();
    }
  });
});
