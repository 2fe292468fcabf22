/**
 * The overhead `guardOpenAI` adds to an OpenAI SDK call: the same requests through a bare
 * client and through a guarded one (a USD budget and a model rule, memory state, no audit
 * log), interleaved call by call so both see the same machine. Two transports:
 *
 * - `http`: the local fake provider (`test/support/fake-llm-server.ts`, in a worker thread
 *   so its work does not share the measured event loop) over loopback HTTP;
 * - `in-process`: the SDK's `fetch` option answers with the same bytes without a socket,
 *   which takes the network's noise out of the difference.
 *
 * Three kinds of call, each a 20-word reply on both transports:
 *
 * - `create`: non-streaming; bare and guarded send the same bytes;
 * - `stream`: streaming, read to the end, with `stream_options.include_usage` asked by the
 *   caller, so bare and guarded send the same request and get the same events;
 * - `stream+u`: streaming without `include_usage`: the guard adds it (it settles from the
 *   usage), so the provider sends `"usage":null` in every chunk and one usage-only chunk
 *   more, which the SDK parses and the guard keeps from the caller. A real cost of the
 *   guard, but of the provider's answer, not of the wrapper.
 *
 * CPU time is this process's minus the fake provider thread's (it runs in this process, so
 * `process.cpuUsage()` alone would count the provider's work on the guarded call's
 * request as the wrapper's); the provider thread's own difference is shown apart.
 * Also measured: the guard's own machinery alone (estimate, decision, reservation,
 * settlement; no SDK). Run alone: `npx node bench/llm-overhead.ts` (`BENCH_LLM_CALLS`,
 * default 2000 per variant).
 */

import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import OpenAI from "openai";
import { Guardian } from "../src/guardian/guardian.ts";
import { LlmGuard } from "../src/integrations/llm/guard.ts";
import { guardOpenAI } from "../src/integrations/openai/index.ts";
import { startFakeLlmServer } from "../test/support/fake-llm-server.ts";

const CALLS = Number(process.env.BENCH_LLM_CALLS ?? 2000);

const POLICIES = `
policies:
  - id: api_budget
    rules:
      - resource: openai
        monthly_budget: 1000000
      - model: "gpt-6*-astra"
        allowed: false
`;

/** One measured variant (all times per call). */
export interface OverheadResult {
  readonly transport: "http" | "in-process";
  readonly stream: boolean;
  /** Streams: whether the caller asked for `include_usage` (else the guard adds it). */
  readonly usageAsked: boolean;
  /** The bare SDK call: median wall time, µs. */
  readonly bareUs: number;
  /** The guarded call: median wall time, µs. */
  readonly guardedUs: number;
  /** Added wall time: the median of paired block differences, µs. */
  readonly overheadUs: number;
  /** `overheadUs` as a share of the bare call. */
  readonly overheadPct: number;
  /**
   * Added CPU time (user + system of this process minus the fake provider's thread): the
   * median of paired block differences, µs.
   */
  readonly cpuOverheadUs: number;
  /** Added CPU time of the fake provider's thread (HTTP only): the median of paired differences, µs. */
  readonly providerCpuOverheadUs: number;
}

type Call = () => Promise<unknown>;

const MESSAGES = [
  { role: "system" as const, content: "You are a terse assistant for release notes." },
  // `[words:20]`: the fake provider's reply length, the same as the in-process one's.
  {
    role: "user" as const,
    content: "Summarize: fixed the budget rollover; added token budgets. [words:20]",
  },
];

type Mode = "create" | "stream" | "stream+u";

function calls(client: OpenAI, mode: Mode): Call {
  const stream = mode !== "create";
  if (!stream) {
    return () =>
      client.chat.completions.create({
        model: "gpt-6.1-terra",
        messages: MESSAGES,
        max_completion_tokens: 200,
      });
  }
  return async () => {
    const s = await client.chat.completions.create({
      model: "gpt-6.1-terra",
      messages: MESSAGES,
      max_completion_tokens: 200,
      stream: true,
      ...(mode === "stream" && { stream_options: { include_usage: true } }),
    });
    for await (const _ of s) {
      // read to the end
    }
  };
}

// --- the in-process transport: the fake provider's bytes, without a socket ----------------

// As the fake provider: `"usage": null` in each chunk and a usage chunk only when asked for.
const CHUNK = (content: string, finish: string | null, withUsage: boolean) =>
  `data: ${JSON.stringify({
    id: "chatcmpl_bench",
    object: "chat.completion.chunk",
    created: 1_790_000_000,
    model: "gpt-6.1-terra",
    service_tier: "default",
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
    ...(withUsage && { usage: null }),
  })}\n\n`;
const WORDS = Array.from({ length: 20 }, (_, i) => (i ? " word" : "word"));
const USAGE = {
  prompt_tokens: 31,
  completion_tokens: 20,
  total_tokens: 51,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};
const sse = (withUsage: boolean) =>
  `${WORDS.map((w) => CHUNK(w, null, withUsage)).join("")}${CHUNK("", "stop", withUsage)}${
    withUsage
      ? `data: ${JSON.stringify({
          id: "chatcmpl_bench",
          object: "chat.completion.chunk",
          created: 1_790_000_000,
          model: "gpt-6.1-terra",
          choices: [],
          usage: USAGE,
        })}\n\n`
      : ""
  }data: [DONE]\n\n`;
const SSE_USAGE = sse(true);
const SSE_PLAIN = sse(false);
const JSON_BODY = JSON.stringify({
  id: "chatcmpl_bench",
  object: "chat.completion",
  created: 1_790_000_000,
  model: "gpt-6.1-terra",
  service_tier: "default",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: WORDS.join(""), refusal: null },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: USAGE,
});

const inProcessFetch = async (_url: string | URL | Request, init?: RequestInit) => {
  const body = typeof init?.body === "string" ? init.body : "";
  const stream = body.includes('"stream":true');
  const usage = body.includes('"include_usage":true');
  return new Response(stream ? (usage ? SSE_USAGE : SSE_PLAIN) : JSON_BODY, {
    status: 200,
    headers: { "content-type": stream ? "text/event-stream" : "application/json" },
  });
};

// --- measurement --------------------------------------------------------------------------

const BLOCK = 10;

interface Samples {
  /** Wall time per call, ms, one entry per block. */
  readonly wall: number[];
  /** CPU time (user + system) of this process but the provider thread, per call, ms, one entry per block. */
  readonly cpu: number[];
  /** CPU time of the provider thread per call, ms, one entry per block. */
  readonly providerCpu: number[];
}

/** CPU time (user + system) of the provider thread so far, µs. */
type ProviderCpu = () => Promise<number>;

async function block(call: Call, into: Samples, providerCpu: ProviderCpu): Promise<void> {
  const p0 = await providerCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < BLOCK; i++) await call();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const provider = (await providerCpu()) - p0;
  into.wall.push(wall / BLOCK);
  into.cpu.push((c.user + c.system - provider) / 1000 / BLOCK);
  into.providerCpu.push(provider / 1000 / BLOCK);
}

/**
 * Blocks of calls, bare and guarded in turn (alternating which goes first), so both see
 * the same machine; the busier the machine, the more the block medians matter.
 */
async function interleaved(
  bare: Call,
  guarded: Call,
  n: number,
  providerCpu: ProviderCpu,
): Promise<{ bare: Samples; guarded: Samples }> {
  const b: Samples = { wall: [], cpu: [], providerCpu: [] };
  const g: Samples = { wall: [], cpu: [], providerCpu: [] };
  for (let i = 0; i < Math.max(1, Math.round(n / BLOCK)); i++) {
    if (i % 2 === 0) {
      await block(bare, b, providerCpu);
      await block(guarded, g, providerCpu);
    } else {
      await block(guarded, g, providerCpu);
      await block(bare, b, providerCpu);
    }
  }
  return { bare: b, guarded: g };
}

const median = (a: readonly number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] as number;
};
/** Median of the paired differences (guarded block minus the bare block next to it). */
const pairedMedian = (g: readonly number[], b: readonly number[]) =>
  median(g.map((v, i) => v - (b[i] as number)));

/** The guard alone: estimate, decide and reserve, settle, per call (µs of wall and CPU time). */
async function guardMachinery(): Promise<{ wallUs: number; cpuUs: number }> {
  const guardian = new Guardian({ policies: POLICIES, env: {}, onWarn: () => {} });
  const guard = new LlmGuard(guardian, { policyId: "api_budget" }, "openai", [
    "chat.completions.create",
  ]);
  const body = { model: "gpt-6.1-terra", messages: MESSAGES, max_completion_tokens: 200 };
  const one = async () => {
    const plan = guard.plan(
      {
        provider: "openai",
        operation: "chat.completions.create",
        model: body.model,
        stream: false,
        params: body,
      },
      { messages: body.messages },
      body.max_completion_tokens,
    );
    const started = await guard.start(plan, (life) =>
      Promise.resolve().then(() => life.settle({ inputTokens: 31, outputTokens: 20 })),
    );
    await started.value;
  };
  const n = CALLS * 10;
  for (let i = 0; i < n; i++) await one(); // warm-up
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await one();
  const c = process.cpuUsage(c0);
  await guardian.close();
  return { wallUs: ((performance.now() - t0) * 1000) / n, cpuUs: (c.user + c.system) / n };
}

/** The fake provider in a worker thread: its URL, its CPU time, and how to stop it. */
async function providerThread(): Promise<{
  openaiBaseURL: string;
  cpu: ProviderCpu;
  close(): Promise<void>;
}> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { fakeProvider: true } });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("message", (m: string) => resolve(m));
    worker.once("error", reject);
  });
  return {
    openaiBaseURL: `${url}/v1`,
    cpu: () =>
      new Promise<number>((resolve) => {
        worker.once("message", (m: number) => resolve(m));
        worker.postMessage("cpu");
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}

/** Measures the guard's overhead on both transports, non-streaming and streaming. */
export async function llmOverheadBench(
  log: (line: string) => void = console.log,
): Promise<OverheadResult[]> {
  const server = await providerThread();
  const results: OverheadResult[] = [];
  try {
    for (const transport of ["http", "in-process"] as const) {
      const make = () =>
        new OpenAI({
          apiKey: "sk-bench",
          baseURL: server.openaiBaseURL,
          maxRetries: 0,
          ...(transport === "in-process" && { fetch: inProcessFetch }),
        });
      const guardian = new Guardian({ policies: POLICIES, env: {}, onWarn: () => {} });
      const guarded = guardOpenAI(make(), guardian, { policyId: "api_budget" });
      const bare = make();
      for (const mode of ["create", "stream", "stream+u"] as const) {
        const b = calls(bare, mode);
        const g = calls(guarded, mode);
        await interleaved(b, g, Math.min(1000, CALLS), server.cpu); // warm-up
        const r = await interleaved(b, g, CALLS, server.cpu);
        const overheadMs = pairedMedian(r.guarded.wall, r.bare.wall);
        results.push({
          transport,
          stream: mode !== "create",
          usageAsked: mode === "stream",
          bareUs: median(r.bare.wall) * 1000,
          guardedUs: median(r.guarded.wall) * 1000,
          overheadUs: overheadMs * 1000,
          overheadPct: (overheadMs / median(r.bare.wall)) * 100,
          cpuOverheadUs: pairedMedian(r.guarded.cpu, r.bare.cpu) * 1000,
          providerCpuOverheadUs: pairedMedian(r.guarded.providerCpu, r.bare.providerCpu) * 1000,
        });
      }
      await guardian.close();
    }
  } finally {
    await server.close();
  }
  const machinery = await guardMachinery();
  log(
    `guardOpenAI overhead per call (${CALLS} calls per variant, in blocks of ${BLOCK}, interleaved with the bare SDK)`,
  );
  log(
    "transport   mode        bare µs   guarded µs   overhead µs   overhead %   CPU overhead µs   provider CPU Δ µs",
  );
  for (const r of results) {
    log(
      [
        r.transport.padEnd(11),
        (r.stream ? (r.usageAsked ? "stream" : "stream+u") : "create").padEnd(8),
        r.bareUs.toFixed(1).padStart(10),
        r.guardedUs.toFixed(1).padStart(12),
        r.overheadUs.toFixed(1).padStart(13),
        r.overheadPct.toFixed(1).padStart(12),
        r.cpuOverheadUs.toFixed(1).padStart(17),
        (r.transport === "http" ? r.providerCpuOverheadUs.toFixed(1) : "-").padStart(19),
      ].join(" "),
    );
  }
  log(
    "stream: the caller asks for include_usage (same request both ways); stream+u: it does not, the guard adds it",
  );
  log(
    "  (the provider then sends usage fields and one chunk more). CPU: this process minus the fake provider's thread;",
  );
  log("  provider CPU Δ: the fake provider thread's own extra CPU per guarded call.");
  log(
    `the guard alone (estimate, decision, reservation, settlement; no SDK): ${machinery.wallUs.toFixed(2)} µs wall, ${machinery.cpuUs.toFixed(2)} µs CPU per call`,
  );
  return results;
}

if (!isMainThread && (workerData as { fakeProvider?: boolean } | null)?.fakeProvider) {
  // The provider thread: answer, and keep no record (the benchmark makes thousands of calls).
  const server = await startFakeLlmServer();
  server.calls.push = () => 0;
  parentPort?.on("message", () => {
    const c = process.threadCpuUsage();
    parentPort?.postMessage(c.user + c.system);
  });
  parentPort?.postMessage(server.url);
} else if (import.meta.main) {
  await llmOverheadBench();
}
