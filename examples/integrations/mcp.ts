// An MCP server whose tools are guarded by policies: a file server that may read anything
// under /srv, may never touch /etc, and deletes only after the person at the client says
// yes (MCP elicitation). The client here is the SDK's own, linked in memory; in real use
// it is Claude Desktop, an IDE or an agent, over stdio or HTTP.
// Install: `npm install hexarch-guardrails @modelcontextprotocol/sdk zod`
// Run: `node mcp.ts` (Node.js 22.18+); in this repository: `npx node examples/integrations/mcp.ts`
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type CallToolResult, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Guardian } from "hexarch-guardrails";
import { guardMcpServer } from "hexarch-guardrails/integrations/mcp";
import { z } from "zod";

const POLICIES = `
policies:
  - id: file_tools
    rules:
      - resource: "*"
        requests_per_minute: 30
        action: block
      - resource: "*"
        when: { field: args.path, op: starts_with, value: /etc/ }
        action: block
        message: system files are off limits
  - id: safe_delete
    rules:
      - resource: delete_file
        action: require_confirmation
`;

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const guardian = new Guardian({ policies: POLICIES, env: {} });
  const server = guardMcpServer(new McpServer({ name: "files", version: "1.0.0" }), guardian, {
    policyId: { delete_file: "safe_delete", "*": "file_tools" },
  });
  server.registerTool(
    "read_file",
    { description: "Reads a file", inputSchema: { path: z.string() } },
    async ({ path }) => ({ content: [{ type: "text", text: `(contents of ${path})` }] }),
  );
  server.registerTool(
    "delete_file",
    { description: "Deletes a file", inputSchema: { path: z.string() } },
    async ({ path }) => ({ content: [{ type: "text", text: `deleted ${path}` }] }),
  );

  // The client side: a person who approves deleting /srv/tmp files and nothing else.
  const client = new Client(
    { name: "example", version: "1.0.0" },
    { capabilities: { elicitation: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    const yes = request.params.message.includes('"/srv/tmp/');
    log(
      `  the client asks its user: ${request.params.message.split("\n")[0]} → ${yes ? "yes" : "no"}`,
    );
    return { action: "accept", content: { confirm: yes } };
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);

  const call = async (name: string, path: string): Promise<void> => {
    const r = (await client.callTool({ name, arguments: { path } })) as CallToolResult;
    const text = (r.content[0] as { text: string }).text;
    log(`${name} ${path}: ${r.isError ? "refused" : "ran"} — ${text}`);
  };
  await call("read_file", "/srv/report.txt");
  await call("read_file", "/etc/shadow");
  await call("delete_file", "/srv/tmp/cache.bin");
  await call("delete_file", "/srv/report.txt");

  await client.close();
  await server.close();
  await guardian.close();
}

if (import.meta.main) await main();
