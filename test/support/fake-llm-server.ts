/**
 * A local HTTP server that answers like the LLM providers, for tests, examples and the
 * benchmark: OpenAI Chat Completions and Responses (`/v1/chat/completions`,
 * `/v1/responses`), Anthropic Messages (`/v1/messages`) and the Vercel AI Gateway
 * (`/v4/ai/language-model`), as JSON or as server-sent events, with `usage` in each
 * provider's own shape. The real SDKs talk to it through their `baseURL` option.
 *
 * Replies are deterministic. Markers in the last user message steer a reply:
 * `[words:N]` (reply length, default 12), `[reasoning:N]` (reasoning tokens),
 * `[cached:N]` (prompt tokens read from the cache), `[fail:500]` (an error status),
 * `[fail:stream]` (the connection drops mid-stream), `[delay:MS]` (between events).
 * Prompt tokens are the prompt's characters over 4 (the fake's "tokenizer"), plus 3.
 *
 * Every answered call is recorded with the usage it reported (`server.calls`).
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One answered call. */
export interface FakeCall {
  readonly path: string;
  readonly model: string;
  readonly stream: boolean;
  readonly body: Record<string, unknown>;
  /** Usage as the provider would bill it (only for calls that completed). */
  usage?: FakeUsage;
  /** Whether the reply was sent to its end. */
  completed: boolean;
}

/** What a call used, in one shape for the tests. */
export interface FakeUsage {
  /** Every prompt token, cached included. */
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  /** Every output token, reasoning included. */
  readonly outputTokens: number;
  readonly reasoningTokens: number;
}

/** A running fake provider. */
export interface FakeLlmServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** OpenAI `baseURL` (`${url}/v1`). */
  readonly openaiBaseURL: string;
  /** Anthropic `baseURL` (`url`). */
  readonly anthropicBaseURL: string;
  /** AI Gateway `baseURL` (`${url}/v4/ai`). */
  readonly gatewayBaseURL: string;
  readonly calls: FakeCall[];
  close(): Promise<void>;
}

interface Plan {
  readonly words: string[];
  readonly reasoning: number;
  readonly cached: number;
  readonly fail: "500" | "stream" | undefined;
  readonly delayMs: number;
  readonly promptTokens: number;
}

const WORDS =
  "the quick brown fox jumps over the lazy dog while guardrails count every token".split(" ");

function textOf(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map(textOf).join(" ");
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.text === "string") return o.text;
    if ("content" in o) return textOf(o.content);
    if ("input" in o) return textOf(o.input);
  }
  return "";
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages ?? body.prompt ?? body.input) as unknown;
  if (typeof messages === "string") return messages;
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: string };
    if (m?.role === "user") return textOf(m);
  }
  return "";
}

function plan(body: Record<string, unknown>, maxTokens: number | undefined): Plan {
  const last = lastUserText(body);
  const marker = (name: string) => last.match(new RegExp(`\\[${name}:(\\w+)\\]`))?.[1];
  const wordCount = Number(marker("words") ?? 12);
  const reasoningWanted = Number(marker("reasoning") ?? 0);
  const promptText = [body.system, body.instructions, body.messages, body.input, body.prompt]
    .map(textOf)
    .join(" ");
  const promptTokens = Math.ceil(promptText.length / 4) + 3;
  const cap = maxTokens ?? 4096;
  const reasoning = Math.min(reasoningWanted, cap);
  const words = Array.from(
    { length: Math.max(0, Math.min(wordCount, cap - reasoning)) },
    (_, i) => WORDS[i % WORDS.length] as string,
  );
  const fail = marker("fail");
  return {
    words,
    reasoning,
    cached: Math.min(Number(marker("cached") ?? 0), promptTokens),
    fail: fail === "500" || fail === "stream" ? fail : undefined,
    delayMs: Number(marker("delay") ?? 0),
    promptTokens,
  };
}

const usageOf = (p: Plan): FakeUsage => ({
  inputTokens: p.promptTokens,
  cachedInputTokens: p.cached,
  outputTokens: p.words.length + p.reasoning,
  reasoningTokens: p.reasoning,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Writes server-sent events, honouring a dropped connection and the plan's delay. */
class Sse {
  readonly #res: ServerResponse;
  readonly #delayMs: number;
  constructor(res: ServerResponse, delayMs: number) {
    this.#res = res;
    this.#delayMs = delayMs;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
  }
  get closed(): boolean {
    return this.#res.destroyed || this.#res.writableEnded;
  }
  async send(data: unknown, event?: string): Promise<void> {
    if (this.closed) return;
    if (this.#delayMs) await sleep(this.#delayMs);
    if (this.closed) return;
    const payload = typeof data === "string" ? data : JSON.stringify(data);
    this.#res.write(`${event ? `event: ${event}\n` : ""}data: ${payload}\n\n`);
  }
  end(): void {
    if (!this.closed) this.#res.end();
  }
  /** Drops the connection mid-stream, once what was sent so far has reached the client. */
  async drop(): Promise<void> {
    await sleep(20);
    this.#res.destroy();
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

let ids = 0;
const id = (prefix: string) => `${prefix}_${(++ids).toString(36).padStart(8, "0")}`;
const num = (v: unknown) => (typeof v === "number" ? v : undefined);

// --- OpenAI Chat Completions -------------------------------------------------------------

function chatUsage(u: FakeUsage) {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

async function chatCompletions(
  body: Record<string, unknown>,
  res: ServerResponse,
  call: FakeCall,
): Promise<void> {
  const p = plan(body, num(body.max_completion_tokens) ?? num(body.max_tokens));
  if (p.fail === "500")
    return json(res, 500, { error: { message: "fake failure", type: "server_error" } });
  const base = {
    id: id("chatcmpl"),
    created: 1_790_000_000,
    model: call.model,
    system_fingerprint: "fp_fake",
    service_tier: "default",
  };
  const usage = usageOf(p);
  const finish =
    p.words.length + p.reasoning >=
    (num(body.max_completion_tokens) ?? num(body.max_tokens) ?? Infinity)
      ? "length"
      : "stop";
  if (!call.stream) {
    call.usage = usage;
    call.completed = true;
    return json(res, 200, {
      ...base,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: p.words.join(" "),
            refusal: null,
            annotations: [],
          },
          logprobs: null,
          finish_reason: finish,
        },
      ],
      usage: chatUsage(usage),
    });
  }
  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const sse = new Sse(res, p.delayMs);
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
    ...base,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage && { usage: null }),
  });
  await sse.send(chunk({ role: "assistant", content: "", refusal: null }, null));
  for (let i = 0; i < p.words.length; i++) {
    if (p.fail === "stream" && i === Math.floor(p.words.length / 2)) return sse.drop();
    await sse.send(chunk({ content: (i ? " " : "") + p.words[i] }, null));
  }
  await sse.send(chunk({}, finish));
  if (includeUsage)
    await sse.send({
      ...base,
      object: "chat.completion.chunk",
      choices: [],
      usage: chatUsage(usage),
    });
  await sse.send("[DONE]");
  if (!sse.closed) {
    call.usage = usage;
    call.completed = true;
  }
  sse.end();
}

// --- OpenAI Responses --------------------------------------------------------------------

function responsesUsage(u: FakeUsage) {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens, cache_write_tokens: 0 },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

async function responses(
  body: Record<string, unknown>,
  res: ServerResponse,
  call: FakeCall,
): Promise<void> {
  const p = plan(body, num(body.max_output_tokens));
  if (p.fail === "500")
    return json(res, 500, { error: { message: "fake failure", type: "server_error" } });
  const usage = usageOf(p);
  const respId = id("resp");
  const msgId = id("msg");
  const text = p.words.join(" ");
  const message = (t: string, status: string) => ({
    id: msgId,
    type: "message",
    status,
    role: "assistant",
    content: [{ type: "output_text", text: t, annotations: [], logprobs: [] }],
  });
  const response = (status: string, withOutput: boolean, withUsage: boolean) => ({
    id: respId,
    object: "response",
    created_at: 1_790_000_000,
    status,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: call.model,
    output: withOutput ? [message(text, "completed")] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: false,
    temperature: 1,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    truncation: "disabled",
    usage: withUsage ? responsesUsage(usage) : null,
    metadata: {},
    output_text: withOutput ? text : "",
  });
  if (!call.stream) {
    call.usage = usage;
    call.completed = true;
    return json(res, 200, response("completed", true, true));
  }
  const sse = new Sse(res, p.delayMs);
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) =>
    sse.send({ type, sequence_number: seq++, ...data }, type);
  await ev("response.created", { response: response("in_progress", false, false) });
  await ev("response.in_progress", { response: response("in_progress", false, false) });
  await ev("response.output_item.added", {
    output_index: 0,
    item: { ...message("", "in_progress"), content: [] },
  });
  await ev("response.content_part.added", {
    item_id: msgId,
    output_index: 0,
    content_index: 0,
    part: { type: "output_text", text: "", annotations: [], logprobs: [] },
  });
  for (let i = 0; i < p.words.length; i++) {
    if (p.fail === "stream" && i === Math.floor(p.words.length / 2)) return sse.drop();
    await ev("response.output_text.delta", {
      item_id: msgId,
      output_index: 0,
      content_index: 0,
      delta: (i ? " " : "") + p.words[i],
      logprobs: [],
    });
  }
  await ev("response.output_text.done", {
    item_id: msgId,
    output_index: 0,
    content_index: 0,
    text,
    logprobs: [],
  });
  await ev("response.content_part.done", {
    item_id: msgId,
    output_index: 0,
    content_index: 0,
    part: { type: "output_text", text, annotations: [], logprobs: [] },
  });
  await ev("response.output_item.done", { output_index: 0, item: message(text, "completed") });
  await ev("response.completed", { response: response("completed", true, true) });
  if (!sse.closed) {
    call.usage = usage;
    call.completed = true;
  }
  sse.end();
}

// --- Anthropic Messages ------------------------------------------------------------------

function anthropicUsage(u: FakeUsage, outputTokens = u.outputTokens) {
  return {
    input_tokens: u.inputTokens - u.cachedInputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: u.cachedInputTokens,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    service_tier: "standard",
    inference_geo: "global",
  };
}

async function messages(
  body: Record<string, unknown>,
  res: ServerResponse,
  call: FakeCall,
): Promise<void> {
  const p = plan(body, num(body.max_tokens));
  if (p.fail === "500") {
    return json(res, 500, { type: "error", error: { type: "api_error", message: "fake failure" } });
  }
  const usage = usageOf(p);
  const msgId = id("msg");
  const text = p.words.join(" ");
  const stop = usage.outputTokens >= (num(body.max_tokens) ?? Infinity) ? "max_tokens" : "end_turn";
  if (!call.stream) {
    call.usage = usage;
    call.completed = true;
    return json(res, 200, {
      id: msgId,
      type: "message",
      role: "assistant",
      model: call.model,
      content: [{ type: "text", text }],
      stop_reason: stop,
      stop_sequence: null,
      usage: anthropicUsage(usage),
    });
  }
  const sse = new Sse(res, p.delayMs);
  await sse.send(
    {
      type: "message_start",
      message: {
        id: msgId,
        type: "message",
        role: "assistant",
        model: call.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: anthropicUsage(usage, 1),
      },
    },
    "message_start",
  );
  await sse.send(
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    "content_block_start",
  );
  await sse.send({ type: "ping" }, "ping");
  for (let i = 0; i < p.words.length; i++) {
    if (p.fail === "stream" && i === Math.floor(p.words.length / 2)) return sse.drop();
    await sse.send(
      {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: (i ? " " : "") + p.words[i] },
      },
      "content_block_delta",
    );
  }
  await sse.send({ type: "content_block_stop", index: 0 }, "content_block_stop");
  await sse.send(
    {
      type: "message_delta",
      delta: { stop_reason: stop, stop_sequence: null },
      usage: {
        input_tokens: usage.inputTokens - usage.cachedInputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: usage.cachedInputTokens,
        output_tokens: usage.outputTokens,
      },
    },
    "message_delta",
  );
  await sse.send({ type: "message_stop" }, "message_stop");
  if (!sse.closed) {
    call.usage = usage;
    call.completed = true;
  }
  sse.end();
}

// --- Vercel AI Gateway (language model protocol, specification v4) ------------------------

function gatewayUsage(u: FakeUsage) {
  return {
    inputTokens: {
      total: u.inputTokens,
      noCache: u.inputTokens - u.cachedInputTokens,
      cacheRead: u.cachedInputTokens,
      cacheWrite: 0,
    },
    outputTokens: {
      total: u.outputTokens,
      text: u.outputTokens - u.reasoningTokens,
      reasoning: u.reasoningTokens,
    },
  };
}

async function gateway(
  body: Record<string, unknown>,
  res: ServerResponse,
  call: FakeCall,
): Promise<void> {
  const p = plan(body, num(body.maxOutputTokens));
  if (p.fail === "500") {
    return json(res, 500, { error: { message: "fake failure", type: "internal_server_error" } });
  }
  const usage = usageOf(p);
  const text = p.words.join(" ");
  const finishReason = { unified: "stop", raw: "stop" };
  if (!call.stream) {
    call.usage = usage;
    call.completed = true;
    return json(res, 200, {
      content: [{ type: "text", text }],
      finishReason,
      usage: gatewayUsage(usage),
      warnings: [],
    });
  }
  const sse = new Sse(res, p.delayMs);
  await sse.send({ type: "stream-start", warnings: [] });
  await sse.send({ type: "response-metadata", id: id("gen"), modelId: call.model });
  await sse.send({ type: "text-start", id: "t0" });
  for (let i = 0; i < p.words.length; i++) {
    if (p.fail === "stream" && i === Math.floor(p.words.length / 2)) return sse.drop();
    await sse.send({ type: "text-delta", id: "t0", delta: (i ? " " : "") + p.words[i] });
  }
  await sse.send({ type: "text-end", id: "t0" });
  await sse.send({ type: "finish", finishReason, usage: gatewayUsage(usage) });
  if (!sse.closed) {
    call.usage = usage;
    call.completed = true;
  }
  sse.end();
}

// --- the server --------------------------------------------------------------------------

/** Starts the fake provider on 127.0.0.1 (a free port). */
export async function startFakeLlmServer(): Promise<FakeLlmServer> {
  const calls: FakeCall[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? "").split("?")[0] ?? "";
      const body = await readJson(req);
      const gatewayModel = req.headers["ai-language-model-id"];
      const call: FakeCall = {
        path,
        model: typeof gatewayModel === "string" ? gatewayModel : String(body.model ?? ""),
        stream:
          path === "/v4/ai/language-model"
            ? req.headers["ai-language-model-streaming"] === "true"
            : body.stream === true,
        body,
        completed: false,
      };
      calls.push(call);
      if (path === "/v1/chat/completions") return chatCompletions(body, res, call);
      if (path === "/v1/responses") return responses(body, res, call);
      if (path === "/v1/messages") return messages(body, res, call);
      if (path === "/v4/ai/language-model") return gateway(body, res, call);
      json(res, 404, { error: { message: `no route ${path}` } });
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(err) } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    gatewayBaseURL: `${url}/v4/ai`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
