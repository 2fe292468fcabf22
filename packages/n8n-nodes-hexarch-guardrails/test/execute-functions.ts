/**
 * A small implementation of n8n's IExecuteFunctions, enough to run the node's `execute`:
 * input items, parameters per item (a function of the item index stands for an
 * expression), credentials, continueOnFail, and `helpers.httpRequestWithAuthentication`
 * making a real HTTP request with the credential type's `authenticate` applied, as n8n does
 * (its `{{ }}` expressions evaluated against the credential's data).
 */
import type {
  ICredentialDataDecryptedObject,
  ICredentialType,
  IDataObject,
  IExecuteFunctions,
  IHttpRequestOptions,
  IN8nHttpFullResponse,
  INode,
  INodeExecutionData,
} from "n8n-workflow";
import { HexarchGuardrailsApi } from "../credentials/HexarchGuardrailsApi.credentials.ts";
import { HexarchGuardrails } from "../nodes/HexarchGuardrails/HexarchGuardrails.node.ts";

/** A parameter's value, or a function of the item index (what an expression gives). */
export type Param = unknown | ((itemIndex: number) => unknown);

/** What one run of the node is given. */
export interface RunSpec {
  readonly params: Readonly<Record<string, Param>>;
  readonly items?: readonly IDataObject[];
  readonly credentials: ICredentialDataDecryptedObject;
  readonly continueOnFail?: boolean;
}

/** The requests the node made, for assertions. */
export interface Sent {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

const NODE: INode = {
  id: "6f0c2c1e-0000-4000-8000-000000000001",
  name: "Hexarch Guardrails",
  type: "n8n-nodes-hexarch-guardrails.hexarchGuardrails",
  typeVersion: 1,
  position: [0, 0],
  parameters: {},
};

const CREDENTIAL_TYPES: Readonly<Record<string, ICredentialType>> = {
  hexarchGuardrailsApi: new HexarchGuardrailsApi(),
};

/**
 * Resolves an n8n parameter value: a string starting with `=` is an expression whose
 * `{{ … }}` parts are JavaScript over `$credentials` (n8n evaluates them in its sandbox).
 */
export function resolveExpression(value: unknown, credentials: ICredentialDataDecryptedObject) {
  if (typeof value !== "string" || !value.startsWith("=")) return value;
  return value.slice(1).replace(/\{\{([\s\S]+?)\}\}/g, (_, body: string) => {
    const evaluate = new Function("$credentials", `return (${body});`) as (
      c: ICredentialDataDecryptedObject,
    ) => unknown;
    return String(evaluate(credentials));
  });
}

/** An error shaped like the one n8n's request helper throws (axios's). */
class RequestError extends Error {
  readonly code: string | undefined;
  readonly response: { status: number; data: unknown } | undefined;
  constructor(message: string, code?: string, response?: { status: number; data: unknown }) {
    super(message);
    this.code = code;
    this.response = response;
  }
}

/** Performs `options` with the credential's headers added, as `httpRequestWithAuthentication`. */
export async function requestWithCredential(
  credentialsType: string,
  options: IHttpRequestOptions,
  credentials: ICredentialDataDecryptedObject,
  sent: Sent[] = [],
): Promise<unknown> {
  const type = CREDENTIAL_TYPES[credentialsType];
  if (!type) throw new Error(`unknown credential type ${credentialsType}`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const auth = type.authenticate;
  if (auth && typeof auth === "object" && auth.type === "generic") {
    for (const [k, v] of Object.entries(auth.properties.headers ?? {}))
      headers[k.toLowerCase()] = String(resolveExpression(v, credentials));
  }
  const baseURL = options.baseURL ? String(resolveExpression(options.baseURL, credentials)) : "";
  const url = new URL(`${baseURL}${String(resolveExpression(options.url, credentials))}`);
  for (const [k, v] of Object.entries(options.qs ?? {})) url.searchParams.set(k, String(v));
  let body: string | undefined;
  if (options.body !== undefined && options.method !== "GET") {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const method = options.method ?? "GET";
  sent.push({ method, url: url.href, headers, body: options.body });
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      // n8n's helper follows redirects unless told not to (axios maxRedirects: 0).
      redirect: options.disableFollowRedirect ? "manual" : "follow",
      signal: AbortSignal.timeout(options.timeout ?? 30_000),
    });
  } catch (error) {
    // fetch's TypeError carries the socket error as its cause (an AggregateError when
    // several addresses were tried); axios, under n8n's helper, throws that error itself.
    type Cause = { code?: string; message?: string; errors?: Cause[] };
    const cause = (error as { cause?: Cause }).cause;
    const first = cause?.errors?.[0] ?? cause;
    throw new RequestError(first?.message || String(error), cause?.code ?? first?.code);
  }
  const text = await response.text();
  let data: unknown = text;
  if (options.json && text !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.status >= 400 && !options.ignoreHttpStatusErrors) {
    throw new RequestError(`Request failed with status code ${response.status}`, undefined, {
      status: response.status,
      data,
    });
  }
  if (!options.returnFullResponse) return data;
  const full: IN8nHttpFullResponse = {
    body: data as IN8nHttpFullResponse["body"],
    headers: Object.fromEntries(response.headers),
    statusCode: response.status,
    statusMessage: response.statusText,
  };
  return full;
}

/** The subset of IExecuteFunctions the node uses. */
interface ExecuteSubset {
  getInputData(): INodeExecutionData[];
  getNodeParameter(name: string, itemIndex: number, fallbackValue?: unknown): unknown;
  getCredentials(type: string, itemIndex?: number): Promise<ICredentialDataDecryptedObject>;
  continueOnFail(): boolean;
  getNode(): INode;
  helpers: {
    httpRequestWithAuthentication(
      credentialsType: string,
      requestOptions: IHttpRequestOptions,
    ): Promise<unknown>;
    returnJsonArray(data: IDataObject | IDataObject[]): INodeExecutionData[];
  };
}

/** Runs the node's `execute` once: its outputs, and the requests it sent. */
export async function runNode(
  spec: RunSpec,
): Promise<{ outputs: INodeExecutionData[][]; sent: Sent[] }> {
  const sent: Sent[] = [];
  const items: INodeExecutionData[] = (spec.items ?? [{}]).map((json) => ({ json }));
  const ctx: ExecuteSubset = {
    getInputData: () => items,
    getNodeParameter(name, itemIndex, fallbackValue) {
      if (!(name in spec.params)) {
        if (fallbackValue !== undefined) return fallbackValue;
        throw new Error(`Could not get parameter "${name}"`);
      }
      const value = spec.params[name];
      return typeof value === "function" ? (value as (i: number) => unknown)(itemIndex) : value;
    },
    getCredentials: async (type) => {
      if (type !== "hexarchGuardrailsApi") throw new Error(`no credential of type ${type}`);
      return spec.credentials;
    },
    continueOnFail: () => spec.continueOnFail === true,
    getNode: () => NODE,
    helpers: {
      httpRequestWithAuthentication: (credentialsType, requestOptions) =>
        requestWithCredential(credentialsType, requestOptions, spec.credentials, sent),
      returnJsonArray: (data) => (Array.isArray(data) ? data : [data]).map((json) => ({ json })),
    },
  };
  const node = new HexarchGuardrails();
  const outputs = await node.execute.call(ctx as unknown as IExecuteFunctions);
  return { outputs, sent };
}

/** Runs the credential type's test request as n8n's "Test" button does: its status and body. */
export async function testCredential(
  credentials: ICredentialDataDecryptedObject,
): Promise<{ statusCode: number; body: unknown }> {
  const request = new HexarchGuardrailsApi().test.request;
  const answer = (await requestWithCredential(
    "hexarchGuardrailsApi",
    {
      url: request.url ?? "",
      ...(request.baseURL === undefined ? {} : { baseURL: request.baseURL }),
      ...(request.method === undefined ? {} : { method: request.method }),
      json: true,
      returnFullResponse: true,
      ignoreHttpStatusErrors: true,
    },
    credentials,
  )) as IN8nHttpFullResponse;
  return { statusCode: answer.statusCode, body: answer.body };
}
