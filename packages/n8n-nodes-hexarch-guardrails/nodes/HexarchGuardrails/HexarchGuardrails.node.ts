import {
  type IDataObject,
  type IExecuteFunctions,
  type IHttpRequestMethods,
  type IN8nHttpFullResponse,
  type INodeExecutionData,
  type INodeType,
  type INodeTypeDescription,
  type JsonObject,
  NodeApiError,
  NodeConnectionTypes,
  NodeOperationError,
} from "n8n-workflow";

const CREDENTIAL = "hexarchGuardrailsApi";
const DEFAULT_DECISION_FIELD = "guardrails";
const REQUEST_TIMEOUT_MS = 30_000;

/** A JSON object (not an array, not null). */
function isObject(value: unknown): value is IDataObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The body of an answer: parsed when the client left it a string. */
function parseBody(body: unknown): unknown {
  if (typeof body !== "string") return body;
  if (body === "") return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** A one-line message for a refused request, saying what to check. */
function refusalMessage(status: number, code: string | undefined, message: string): string {
  const tag = code ? `${status} ${code}` : String(status);
  if (status === 401)
    return `The decision server wants a token (${tag}): check the credential's Token`;
  if (status === 403 && code === "forbidden")
    return `The decision server refused the token (${tag}): check the credential's Token`;
  if (status === 429)
    return `The decision server is rate limiting this client (${tag}): ${message}`;
  return `${message} (${tag})`;
}

/** A server URL for a message: its user and password (user:password@) never shown. */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href.replace(/\/+$/, "");
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//");
  }
}

/** Replaces every copy of `url` (with its userinfo) in a message by its shown form. */
function hideUserinfo(message: string, url: string): string {
  const shown = shownUrl(url);
  return shown === url
    ? message
    : message
        .split(url)
        .join(shown)
        .replace(/\/\/[^/@\s]*@/g, "//");
}

interface Answer {
  readonly data: unknown;
  readonly headers: IDataObject;
}

/**
 * Sends one request to the decision server with the credential applied by n8n. Any answer
 * that is not 2xx, and any failure to reach the server, is thrown as a NodeApiError.
 */
async function callServer(
  ctx: IExecuteFunctions,
  itemIndex: number,
  method: IHttpRequestMethods,
  path: string,
  body: IDataObject,
  headers: IDataObject = {},
): Promise<Answer> {
  const credentials = await ctx.getCredentials<{ url?: unknown }>(CREDENTIAL, itemIndex);
  const baseUrl = typeof credentials.url === "string" ? credentials.url.replace(/\/+$/, "") : "";
  if (baseUrl === "") {
    throw new NodeOperationError(ctx.getNode(), "The credential has no Server URL", {
      itemIndex,
    });
  }
  let response: IN8nHttpFullResponse;
  try {
    response = (await ctx.helpers.httpRequestWithAuthentication.call(ctx, CREDENTIAL, {
      method,
      url: `${baseUrl}${path}`,
      body,
      headers: { accept: "application/json", ...headers },
      json: true,
      returnFullResponse: true,
      ignoreHttpStatusErrors: true,
      timeout: REQUEST_TIMEOUT_MS,
      // A redirect's target is not the decision server: never follow one (it would get the
      // token headers, and its answer would be taken for a decision).
      disableFollowRedirect: true,
    })) as IN8nHttpFullResponse;
  } catch (error) {
    const failure = new NodeApiError(ctx.getNode(), error as JsonObject, { itemIndex });
    const code = isObject(error) && typeof error.code === "string" ? error.code : undefined;
    // n8n words a known network error (ECONNREFUSED…) its own way; say which server too.
    failure.message = hideUserinfo(
      `Could not reach the decision server at ${shownUrl(baseUrl)}: ${failure.message}${
        code && !failure.message.includes(code) ? ` (${code})` : ""
      }`,
      baseUrl,
    );
    if (failure.description) failure.description = hideUserinfo(failure.description, baseUrl);
    throw failure;
  }
  const data = parseBody(response.body);
  const status = response.statusCode;
  if (status >= 200 && status < 300) return { data, headers: response.headers ?? {} };
  if (status >= 300 && status < 400) {
    throw new NodeApiError(ctx.getNode(), { message: "redirect", status } as JsonObject, {
      itemIndex,
      httpCode: String(status),
      message: `The decision server at ${shownUrl(baseUrl)} answered ${method} ${path} with a redirect (${status}): not followed; set the credential's Server URL to the server itself`,
      description: `${method} ${path} answered ${status}`,
    });
  }
  const problem: IDataObject = isObject(data) ? data : { message: String(data ?? "") };
  const code = typeof problem.code === "string" ? problem.code : undefined;
  const message =
    typeof problem.message === "string" && problem.message !== ""
      ? problem.message
      : `HTTP ${status}`;
  const requestId = typeof problem.requestId === "string" ? problem.requestId : undefined;
  throw new NodeApiError(ctx.getNode(), problem as JsonObject, {
    itemIndex,
    httpCode: String(status),
    message: refusalMessage(status, code, message),
    description: requestId
      ? `${method} ${path} answered ${status}; the server's log has request id ${requestId}`
      : `${method} ${path} answered ${status}`,
  });
}

/** The fields of a thrown error an item carries when the node continues on fail. */
function errorFields(error: unknown): IDataObject {
  const message = error instanceof Error ? error.message : String(error);
  const details: IDataObject = {};
  if (error instanceof NodeApiError) {
    if (error.httpCode) details.httpCode = error.httpCode;
    const cause = error.errorResponse;
    if (isObject(cause)) {
      if (typeof cause.code === "string") details.code = cause.code;
      if (typeof cause.requestId === "string") details.requestId = cause.requestId;
    }
  }
  return { error: message, errorDetails: details };
}

/** The `context` of an authorize request, from the item and the node's parameters. */
function readContext(
  ctx: IExecuteFunctions,
  item: INodeExecutionData,
  itemIndex: number,
  decisionField: string,
): IDataObject {
  const source = ctx.getNodeParameter("contextSource", itemIndex, "json") as string;
  if (source === "item") {
    const context: IDataObject = { ...item.json };
    delete context[decisionField];
    return context;
  }
  if (source === "fields") {
    const collection = ctx.getNodeParameter("contextFields", itemIndex, {}) as {
      field?: Array<{ name?: string; value?: unknown }>;
    };
    const context: IDataObject = {};
    for (const { name, value } of collection.field ?? []) {
      if (typeof name === "string" && name.trim() !== "")
        context[name.trim()] = value as IDataObject[string];
    }
    return context;
  }
  const raw = ctx.getNodeParameter("contextJson", itemIndex, "{}") as unknown;
  let parsed: unknown = raw;
  if (typeof raw === "string") {
    try {
      parsed = raw.trim() === "" ? {} : JSON.parse(raw);
    } catch (error) {
      throw new NodeOperationError(ctx.getNode(), "Context (JSON) is not valid JSON", {
        itemIndex,
        description: error instanceof Error ? error.message : String(error),
      });
    }
  }
  if (!isObject(parsed)) {
    throw new NodeOperationError(ctx.getNode(), "Context (JSON) must be a JSON object", {
      itemIndex,
    });
  }
  return parsed;
}

/** Drops empty strings and unset numbers from a request body. */
function compact(body: IDataObject): IDataObject {
  const out: IDataObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null || value === "") continue;
    out[key] = value;
  }
  return out;
}

export class HexarchGuardrails implements INodeType {
  description: INodeTypeDescription = {
    displayName: "Hexarch Guardrails",
    name: "hexarchGuardrails",
    icon: { light: "file:../../icons/hexarch.svg", dark: "file:../../icons/hexarch.dark.svg" },
    group: ["transform"],
    version: 1,
    subtitle: '={{$parameter["operation"]}}',
    description:
      "Ask a hexarch-guardrails decision server whether a step may run, report provider calls, approve or deny confirmations",
    defaults: { name: "Hexarch Guardrails" },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: `={{ $parameter.operation === "authorize" && $parameter.outputMode !== "continue" ? [{ type: "${NodeConnectionTypes.Main}", displayName: "Allowed" }, { type: "${NodeConnectionTypes.Main}", displayName: "Denied" }] : [{ type: "${NodeConnectionTypes.Main}" }] }}`,
    credentials: [{ name: CREDENTIAL, required: true }],
    properties: [
      {
        displayName: "Operation",
        name: "operation",
        type: "options",
        noDataExpression: true,
        options: [
          {
            name: "Approve Confirmation",
            value: "approve",
            description: "Approve a pending confirmation request by its token",
            action: "Approve a confirmation",
          },
          {
            name: "Authorize",
            value: "authorize",
            description: "Ask whether the step may run under a policy",
            action: "Authorize a step",
          },
          {
            name: "Deny Confirmation",
            value: "deny",
            description: "Deny a pending confirmation request by its token",
            action: "Deny a confirmation",
          },
          {
            name: "Report Provider Call",
            value: "reportProviderCall",
            description: "Report a call to a model provider so budgets count its spend",
            action: "Report a provider call",
          },
        ],
        default: "authorize",
      },

      // Authorize
      {
        displayName: "Policy ID",
        name: "policyId",
        type: "string",
        required: true,
        default: "",
        placeholder: "openai_budget",
        description: "ID of the policy to decide under, as in the server's policy file",
        displayOptions: { show: { operation: ["authorize"] } },
      },
      {
        displayName: "Context Source",
        name: "contextSource",
        type: "options",
        options: [
          {
            name: "JSON",
            value: "json",
            description: "A JSON object, usually built with an expression",
          },
          { name: "Fields Below", value: "fields", description: "Name and value pairs" },
          {
            name: "Whole Input Item",
            value: "item",
            description: "The input item's JSON, without the decision field",
          },
        ],
        default: "json",
        description: "Where the context the policy is decided on comes from",
        displayOptions: { show: { operation: ["authorize"] } },
      },
      {
        displayName: "Context (JSON)",
        name: "contextJson",
        type: "json",
        default: '{\n  "resource": "openai",\n  "userId": "alice"\n}',
        description:
          "The context the policy is decided on: resource, operation, userId, cost, tokens and any field its rules read",
        displayOptions: { show: { operation: ["authorize"], contextSource: ["json"] } },
      },
      {
        displayName: "Context Fields",
        name: "contextFields",
        type: "fixedCollection",
        typeOptions: { multipleValues: true },
        placeholder: "Add Field",
        default: {},
        displayOptions: { show: { operation: ["authorize"], contextSource: ["fields"] } },
        options: [
          {
            displayName: "Field",
            name: "field",
            values: [
              {
                displayName: "Name",
                name: "name",
                type: "string",
                default: "",
                placeholder: "resource",
              },
              {
                displayName: "Value",
                name: "value",
                type: "string",
                default: "",
                placeholder: "openai",
              },
            ],
          },
        ],
      },
      {
        displayName: "Confirmation Token",
        name: "confirmationToken",
        type: "string",
        typeOptions: { password: true },
        default: "",
        description:
          "An approved confirmation token for this policy and context: the call is allowed once. Leave empty to ask without one.",
        displayOptions: { show: { operation: ["authorize"] } },
      },
      {
        displayName: "Output Mode",
        name: "outputMode",
        type: "options",
        noDataExpression: true,
        options: [
          {
            name: "Route",
            value: "route",
            description:
              "Two outputs: allowed items to the first, denied ones (and ones that need confirmation) to the second",
          },
          {
            name: "Continue",
            value: "continue",
            description: "One output; the decision is on each item",
          },
        ],
        default: "route",
        displayOptions: { show: { operation: ["authorize"] } },
      },
      {
        displayName: "Options",
        name: "options",
        type: "collection",
        placeholder: "Add Option",
        default: {},
        displayOptions: { show: { operation: ["authorize"] } },
        options: [
          {
            displayName: "Decision Field",
            name: "decisionField",
            type: "string",
            default: DEFAULT_DECISION_FIELD,
            description: "Name of the item field that receives the server's decision",
          },
        ],
      },

      // Report provider call
      {
        displayName: "Resource",
        name: "resource",
        type: "string",
        required: true,
        default: "",
        placeholder: "openai",
        description: "The provider called; budget rules on this resource count the spend",
        displayOptions: { show: { operation: ["reportProviderCall"] } },
      },
      {
        displayName: "Model",
        name: "model",
        type: "string",
        default: "",
        placeholder: "gpt-4o-mini",
        displayOptions: { show: { operation: ["reportProviderCall"] } },
      },
      {
        displayName: "Tokens In",
        name: "tokensIn",
        type: "number",
        typeOptions: { minValue: 0 },
        default: 0,
        description: "Prompt tokens the call used",
        displayOptions: { show: { operation: ["reportProviderCall"] } },
      },
      {
        displayName: "Tokens Out",
        name: "tokensOut",
        type: "number",
        typeOptions: { minValue: 0 },
        default: 0,
        description: "Completion tokens the call used",
        displayOptions: { show: { operation: ["reportProviderCall"] } },
      },
      {
        displayName: "Cost (USD)",
        name: "costUsd",
        type: "number",
        typeOptions: { minValue: 0, numberPrecision: 6 },
        default: 0,
        description: "What the call cost, in US dollars",
        displayOptions: { show: { operation: ["reportProviderCall"] } },
      },
      {
        displayName: "Additional Fields",
        name: "additionalFields",
        type: "collection",
        placeholder: "Add Field",
        default: {},
        displayOptions: { show: { operation: ["reportProviderCall"] } },
        options: [
          {
            displayName: "Action",
            name: "action",
            type: "string",
            default: "",
            placeholder: "chat",
            description: "What was done with the provider",
          },
          {
            displayName: "Error Message",
            name: "error_message",
            type: "string",
            default: "",
          },
          {
            displayName: "Error Type",
            name: "error_type",
            type: "string",
            default: "",
          },
          {
            displayName: "Latency (Ms)",
            name: "latency_ms",
            type: "number",
            typeOptions: { minValue: 0 },
            default: 0,
          },
          {
            displayName: "Metadata (JSON)",
            name: "metadata",
            type: "json",
            default: "{}",
          },
          {
            displayName: "Status Code",
            name: "status_code",
            type: "number",
            default: 200,
          },
          {
            displayName: "Succeeded",
            name: "ok",
            type: "boolean",
            default: true,
            description: "Whether the provider call succeeded",
          },
        ],
      },

      // Approve / deny
      {
        displayName: "Confirmation Token",
        name: "approvalToken",
        type: "string",
        typeOptions: { password: true },
        required: true,
        default: "",
        description:
          "The token an Authorize answer carried (or the request's ID from the approvals inbox)",
        displayOptions: { show: { operation: ["approve", "deny"] } },
      },
      {
        displayName: "Reason",
        name: "reason",
        type: "string",
        default: "",
        description: "Why, kept in the audit log",
        displayOptions: { show: { operation: ["approve", "deny"] } },
      },
      {
        displayName: "Approver",
        name: "approver",
        type: "string",
        default: "",
        description:
          "Who answers, when the credential is the server's static token (an API key always answers as itself). Nobody may approve a request they made.",
        displayOptions: { show: { operation: ["approve", "deny"] } },
      },
    ],
  };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const items = this.getInputData();
    const operation = this.getNodeParameter("operation", 0) as string;
    const route =
      operation === "authorize" && this.getNodeParameter("outputMode", 0, "route") === "route";
    const allowed: INodeExecutionData[] = [];
    const denied: INodeExecutionData[] = [];

    for (let i = 0; i < items.length; i++) {
      const item = items[i] as INodeExecutionData;
      let field = DEFAULT_DECISION_FIELD;
      try {
        if (operation === "authorize") {
          const options = this.getNodeParameter("options", i, {}) as { decisionField?: string };
          field = options.decisionField?.trim() || DEFAULT_DECISION_FIELD;
          const policyId = String(this.getNodeParameter("policyId", i, "")).trim();
          if (policyId === "") {
            throw new NodeOperationError(this.getNode(), "Policy ID is empty", { itemIndex: i });
          }
          const context = readContext(this, item, i, field);
          const token = String(this.getNodeParameter("confirmationToken", i, "")).trim();
          const { data } = await callServer(
            this,
            i,
            "POST",
            "/authorize",
            { policyId, context },
            token ? { "X-Confirmation-Token": token } : {},
          );
          if (
            !isObject(data) ||
            typeof data.allowed !== "boolean" ||
            typeof data.action !== "string"
          ) {
            throw new NodeApiError(
              this.getNode(),
              { message: "not a decision", body: JSON.stringify(data) ?? null },
              {
                itemIndex: i,
                message: "The decision server's answer to /authorize has no decision",
              },
            );
          }
          const out: INodeExecutionData = {
            json: { ...item.json, [field]: data },
            pairedItem: { item: i },
          };
          // Allowed only when the server says so twice over (allowed, with the action allow or
          // warn), as the Node-RED node reads it; an allow with any other action is no decision.
          const pass = data.allowed === true && (data.action === "allow" || data.action === "warn");
          if (data.allowed === true && !pass) {
            throw new NodeApiError(
              this.getNode(),
              { message: "not a decision", body: JSON.stringify(data) ?? null },
              {
                itemIndex: i,
                message: `The decision server's answer to /authorize is allowed with the action ${JSON.stringify(data.action ?? null)}, which is neither allow nor warn`,
              },
            );
          }
          if (pass || !route) allowed.push(out);
          else denied.push(out);
          continue;
        }

        if (operation === "reportProviderCall") {
          const extra = this.getNodeParameter("additionalFields", i, {}) as IDataObject;
          const body: IDataObject = compact({
            resource: String(this.getNodeParameter("resource", i, "")).trim(),
            model: String(this.getNodeParameter("model", i, "")).trim(),
            tokens_in: this.getNodeParameter("tokensIn", i, 0) as number,
            tokens_out: this.getNodeParameter("tokensOut", i, 0) as number,
            cost_usd: this.getNodeParameter("costUsd", i, 0) as number,
            ...extra,
          });
          if (body.resource === undefined) {
            throw new NodeOperationError(this.getNode(), "Resource is empty", { itemIndex: i });
          }
          if (typeof body.metadata === "string") {
            try {
              body.metadata = JSON.parse(body.metadata) as IDataObject;
            } catch {
              throw new NodeOperationError(this.getNode(), "Metadata (JSON) is not valid JSON", {
                itemIndex: i,
              });
            }
          }
          const { data } = await callServer(this, i, "POST", "/events/provider-calls", body);
          allowed.push({
            json: isObject(data) ? data : { answer: data ?? null },
            pairedItem: { item: i },
          });
          continue;
        }

        if (operation === "approve" || operation === "deny") {
          const token = String(this.getNodeParameter("approvalToken", i, "")).trim();
          if (token === "") {
            throw new NodeOperationError(this.getNode(), "Confirmation Token is empty", {
              itemIndex: i,
            });
          }
          const body = compact({
            reason: String(this.getNodeParameter("reason", i, "")).trim(),
            by: String(this.getNodeParameter("approver", i, "")).trim(),
          });
          const { data } = await callServer(
            this,
            i,
            "POST",
            `/approvals/${encodeURIComponent(token)}/${operation}`,
            body,
          );
          allowed.push({
            json: isObject(data) ? data : { answer: data ?? null },
            pairedItem: { item: i },
          });
          continue;
        }

        throw new NodeOperationError(this.getNode(), `Unknown operation "${operation}"`, {
          itemIndex: i,
        });
      } catch (error) {
        const failure =
          error instanceof NodeApiError || error instanceof NodeOperationError
            ? error
            : new NodeOperationError(this.getNode(), error as Error, { itemIndex: i });
        if (!this.continueOnFail()) throw failure;
        // Never a silent allow: in Route mode a failed item goes to the Denied output, and
        // its decision field says "not allowed" (never a stale decision from its input).
        const fields = errorFields(failure);
        const json: IDataObject = { ...item.json, ...fields };
        if (operation === "authorize")
          json[field] = { allowed: false, action: "error", reason: fields.error as string };
        const failed: INodeExecutionData = { json, pairedItem: { item: i } };
        if (route) denied.push(failed);
        else allowed.push(failed);
      }
    }

    return route ? [allowed, denied] : [allowed];
  }
}
