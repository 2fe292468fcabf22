/**
 * One autocannon run against a server: every request takes the next call of a shared
 * stream, every answer is checked and classified.
 */

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** The part of autocannon's result this benchmark reads (latencies in ms). */
interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly duration: number;
}

interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
}) => Promise<AutocannonResult>;

// autocannon ships CommonJS without types.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

/** Linux's USER_HZ: the unit of the CPU times in `/proc/<pid>/stat`. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system, every thread) a process has used; NaN where /proc is missing. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after its ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** How an answer is classified: a label (counted) or an error message (a wrong answer). */
export type Classify = (
  index: number,
  status: number,
  body: string,
) => { readonly label: string } | { readonly wrong: string };

/** What one run measured. */
export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers received (autocannon's total). */
  readonly answered: number;
  /** The server process's CPU time (every thread) per answer, in µs. */
  readonly cpuUsPerRequest: number;
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  /** Answers by label. */
  readonly labels: Readonly<Record<string, number>>;
  /** Wrong answers (at most 5 kept) and how many there were. */
  readonly wrong: { readonly count: number; readonly samples: readonly string[] };
}

/** Options of {@link load}. */
export interface LoadOptions {
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Pre-serialized bodies; request n sends `bodies[n % bodies.length]`. */
  readonly bodies: readonly string[];
  /** Where in the stream this run starts (runs continue where the last one stopped). */
  readonly start: number;
  readonly connections: number;
  readonly seconds: number;
  readonly classify: Classify;
  /** The server's process id, for its CPU time. */
  readonly pid?: number | undefined;
}

/** Runs autocannon for `seconds` with `connections` connections. */
export async function load(options: LoadOptions): Promise<LoadResult & { next: number }> {
  const { bodies, classify } = options;
  let cursor = options.start;
  const labels: Record<string, number> = {};
  const samples: string[] = [];
  let wrongCount = 0;
  // autocannon's histogram keeps whole milliseconds; time each request here instead.
  let latencies = new Float64Array(1 << 20);
  let timed = 0;
  const cpuBefore = cpuSeconds(options.pid);
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        method: "POST",
        path: options.path,
        headers: { "content-type": "application/json", ...options.headers },
        setupRequest: (req, context) => {
          const i = cursor++ % bodies.length;
          context.i = i;
          context.t0 = performance.now();
          req.body = bodies[i] as string;
          return req;
        },
        onResponse: (status, body, context) => {
          if (timed === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[timed++] = performance.now() - (context.t0 as number);
          const verdict = classify(context.i as number, status, body);
          if ("label" in verdict) labels[verdict.label] = (labels[verdict.label] ?? 0) + 1;
          else {
            wrongCount++;
            if (samples.length < 5) samples.push(verdict.wrong);
          }
        },
      },
    ],
  });
  const cpu = cpuSeconds(options.pid) - cpuBefore;
  const sorted = latencies.subarray(0, timed).sort();
  const pct = (p: number) => sorted[Math.min(timed - 1, Math.floor(timed * p))] ?? Number.NaN;
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    answered: result.requests.total,
    cpuUsPerRequest: (cpu * 1e6) / timed,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    labels,
    wrong: { count: wrongCount, samples },
    next: cursor,
  };
}
