/**
 * `hexarch-guardrails/integrations/mcp`: policies in front of a Model Context Protocol
 * server's tools.
 *
 * `guardMcpServer(server, guardian, { policyId })` guards every tool of an `McpServer`
 * (`@modelcontextprotocol/sdk`), those registered before and after the call: the policy
 * decides before the tool's handler runs, with the tool name as `resource` and its
 * arguments in the context. A refused call answers an MCP tool error (`isError: true`)
 * whose text names the policy and the reason, so the model can read it and change course;
 * the handler never runs. A policy asking for confirmation asks the client's user through
 * MCP elicitation when the client supports it, and refuses otherwise.
 *
 * Only types are imported from the SDK: this module loads nothing of it at run time.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { Guardian } from "hexarch-guardrails";
 * import { guardMcpServer } from "hexarch-guardrails/integrations/mcp";
 *
 * const server = guardMcpServer(new McpServer({ name: "files", version: "1.0.0" }), new Guardian(), {
 *   policyId: { delete_file: "safe_delete", "*": "tool_rate_limit" },
 * });
 * server.registerTool("delete_file", { inputSchema: { path: z.string() } }, async ({ path }) => …);
 * ```
 *
 * @module hexarch-guardrails/integrations/mcp
 */

import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Guardian } from "../../guardian/guardian.ts";
import type { Context } from "../../kernel/context.ts";
import { ConfirmationRequired, GuardrailError, PolicyViolation } from "../../kernel/errors.ts";

/** The tool call as the context function sees it. */
export interface McpToolCall {
  /** The tool's name. */
  readonly tool: string;
  /** The arguments after the tool's input schema parsed them; `undefined` for a tool without one. */
  readonly args: Readonly<Record<string, unknown>> | undefined;
  /** The SDK's request extra (session id, auth info, abort signal, …). */
  readonly extra: unknown;
}

/** Options of {@link guardMcpServer}. */
export interface GuardMcpServerOptions {
  /**
   * The policy deciding every tool, or one per tool name; `"*"` covers tools the map does
   * not name. Registering a tool no policy covers throws: no tool runs unguarded by accident.
   */
  readonly policyId: string | Readonly<Record<string, string>>;
  /**
   * More context for the decision (a user id from the session's auth info, say). Merged over
   * the default context `{ resource: tool, tool, args }`.
   */
  readonly context?: (call: McpToolCall) => Context;
  /**
   * What a `require_confirmation` answer does: `"elicit"` asks the client's user through MCP
   * elicitation (a yes/no form) when the client declared the capability, and runs the tool
   * with `confirm: true` if they accept; `"refuse"` always answers a tool error.
   * @default "elicit"
   */
  readonly confirm?: "elicit" | "refuse";
}

/** The key under `_meta` of a refused call's result carrying the decision. */
export const DECISION_META_KEY = "hexarch-guardrails/decision";

type Handler = (...args: unknown[]) => unknown;

const GUARDED = Symbol("hexarch-guardrails.mcp.guarded");

/** The policy of a tool, or undefined when the options name none. */
function policyFor(options: GuardMcpServerOptions, tool: string): string | undefined {
  const p = options.policyId;
  return typeof p === "string" ? p : (p[tool] ?? p["*"]);
}

/** A tool error the model reads: what was refused, by which policy, and why. */
function refusal(err: PolicyViolation, text: string): CallToolResult {
  const d = err.decision;
  return {
    isError: true,
    content: [{ type: "text", text }],
    _meta: {
      [DECISION_META_KEY]: {
        policyId: err.policyId,
        action: err.action,
        reason: err.reason,
        decisionId: d.decisionId,
      },
    },
  };
}

/**
 * Guards the tools of `server`: every tool registered before or after this call is
 * decided by its policy before its handler runs. Returns `server` itself.
 *
 * @throws GuardrailError when a tool (registered now or later) has no policy in the map.
 */
export function guardMcpServer<S extends McpServer>(
  server: S,
  guardian: Guardian,
  options: GuardMcpServerOptions,
): S {
  const policyOf = (name: string): string => {
    const policyId = policyFor(options, name);
    if (policyId === undefined) {
      throw new GuardrailError(
        `tool '${name}' has no policy: name it in guardMcpServer's policyId map, or add a "*" entry`,
        { code: "policy_id_missing" },
      );
    }
    return policyId;
  };

  const guardTool = (registeredAs: string, tool: RegisteredTool): RegisteredTool => {
    let name = registeredAs;
    wrapHandler(name, tool);
    const update = tool.update.bind(tool);
    // A callback replaced with update() is guarded too, under the tool's (new) name.
    tool.update = ((updates: Parameters<RegisteredTool["update"]>[0]) => {
      const next = typeof updates.name === "string" ? updates.name : name;
      policyOf(next); // refuse before the SDK renames or replaces anything
      update(updates);
      name = next;
      wrapHandler(next, tool);
    }) as RegisteredTool["update"];
    return tool;
  };

  const wrapHandler = (name: string, tool: RegisteredTool): void => {
    const handler = tool.handler as unknown;
    if (typeof handler !== "function") {
      throw new GuardrailError(
        `tool '${name}' is a task-based tool; guardMcpServer guards plain tool callbacks only`,
        { code: "guard_target_invalid" },
      );
    }
    if ((handler as { [GUARDED]?: boolean })[GUARDED]) return;
    const policyId = policyOf(name);
    const guarded = guardedHandler(guardian, server, name, policyId, handler as Handler, options);
    Object.defineProperty(guarded, GUARDED, { value: true });
    tool.handler = guarded as RegisteredTool["handler"];
  };

  // Tools registered before the call: the SDK keeps them in a field its types call private.
  const existing = Reflect.get(server, "_registeredTools") as unknown;
  if (existing !== null && typeof existing === "object") {
    const tools = Object.entries(existing as Record<string, RegisteredTool>);
    for (const [name] of tools) policyOf(name); // all covered, or nothing changes
    for (const [name, tool] of tools) guardTool(name, tool);
  }

  const registerTool = server.registerTool.bind(server) as (...a: unknown[]) => RegisteredTool;
  const legacyTool = server.tool.bind(server) as (...a: unknown[]) => RegisteredTool;
  // The policy is looked up before the SDK registers anything: a refused tool never exists.
  const registering =
    (register: (...a: unknown[]) => RegisteredTool) =>
    (...a: unknown[]): RegisteredTool => {
      policyOf(a[0] as string);
      return guardTool(a[0] as string, register(...a));
    };
  server.registerTool = registering(registerTool) as S["registerTool"];
  server.tool = registering(legacyTool) as S["tool"];
  return server;
}

function guardedHandler(
  guardian: Guardian,
  server: McpServer,
  tool: string,
  policyId: string,
  handler: Handler,
  options: GuardMcpServerOptions,
): Handler {
  // The SDK calls (args, extra) for a tool with an input schema and (extra) without one.
  const callOf = (a: unknown[]): McpToolCall => ({
    tool,
    args: a.length >= 2 ? (a[0] as Record<string, unknown>) : undefined,
    extra: a[a.length - 1],
  });
  const contextOf = (a: unknown[], extra: Context) => {
    const call = callOf(a);
    return {
      resource: tool,
      tool,
      ...(call.args !== undefined && { args: call.args }),
      ...options.context?.(call),
      ...extra,
    };
  };
  const run = guardian.check(policyId, {
    name: tool,
    context: (...a: unknown[]) => contextOf(a, {}),
  })(handler);
  // After the user said yes: this call's decision is confirmed, and only it (not a scope
  // that would also confirm every guarded call the handler makes).
  const runConfirmed = guardian.check(policyId, {
    name: tool,
    context: (...a: unknown[]) => contextOf(a, { confirm: true }),
  })(handler);
  const confirmWith = options.confirm ?? "elicit";
  return async (...a: unknown[]): Promise<unknown> => {
    try {
      return await run(...a);
    } catch (err) {
      if (!(err instanceof PolicyViolation)) throw err;
      if (err instanceof ConfirmationRequired) {
        if (confirmWith === "elicit" && server.server.getClientCapabilities()?.elicitation) {
          return confirmThenRun(server, tool, err, () => runConfirmed(...a), callOf(a));
        }
        return refusal(
          err,
          `The tool '${tool}' did not run. ${err.reason}, and this client cannot ask its user.`,
        );
      }
      return refusal(err, `The tool '${tool}' did not run. ${err.reason}.`);
    }
  };
}

/** Asks the client's user (MCP elicitation); on a yes, runs the tool with `confirm: true`. */
async function confirmThenRun(
  server: McpServer,
  tool: string,
  err: ConfirmationRequired,
  run: () => Promise<unknown>,
  call: McpToolCall,
): Promise<unknown> {
  const args = call.args === undefined ? "" : `\nArguments: ${JSON.stringify(call.args)}`;
  let answer: Awaited<ReturnType<McpServer["server"]["elicitInput"]>>;
  try {
    answer = await server.server.elicitInput({
      message: `${err.reason}. Allow the tool '${tool}' to run?${args}`,
      requestedSchema: {
        type: "object",
        properties: {
          confirm: { type: "boolean", title: "Allow", description: `Run '${tool}' now` },
        },
        required: ["confirm"],
      },
    });
  } catch (e) {
    return refusal(
      err,
      `The tool '${tool}' did not run. ${err.reason}, and asking the user failed: ${(e as Error).message}.`,
    );
  }
  if (answer.action !== "accept" || answer.content?.confirm !== true) {
    return refusal(
      err,
      `The tool '${tool}' did not run: the user did not confirm it. ${err.reason}.`,
    );
  }
  try {
    return await run();
  } catch (again) {
    if (again instanceof PolicyViolation) {
      return refusal(
        again,
        `The tool '${tool}' did not run, although the user confirmed it. ${again.reason}.`,
      );
    }
    throw again;
  }
}
