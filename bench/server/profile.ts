/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and sums self time by function and by
 * area (a package of node_modules, a file of src/, Node's internals, GC).
 */

import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  /** µs on the monotonic clock (the clock of `process.hrtime`). */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one function or area. */
export interface Entry {
  readonly name: string;
  readonly ms: number;
  /** Share of the busy (non-idle) time. */
  readonly share: number;
}

/** A profile's self time, by function, by area and by part of the server, idle time excluded. */
export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly functions: readonly Entry[];
  readonly areas: readonly Entry[];
  /** Every sample in one of a few parts: system calls, audit log, HTTP stack, decision, … */
  readonly parts: readonly Entry[];
}

/** The parts of a request's cost, matched in order against `<function> <url>`. */
const PARTS: readonly [string, RegExp][] = [
  [
    "writes to sockets and files (system calls)",
    /^(writeUtf8String|writeBuffer|writev|writeLatin1String|writeAsciiString) ?$/,
  ],
  ["audit log (records, hash chain, SQLite)", /\/src\/audit\//],
  [
    "decision (Guardian, engine, state store)",
    /\/src\/(guardian|engine|state|decision|policy|util)\//,
  ],
  ["server hooks and routes (src/server)", /\/src\/server\//],
  ["logging (pino)", /node_modules\/(pino|sonic-boom|thread-stream)|\/src\/cli\//],
  ["metrics (prom-client)", /node_modules\/prom-client/],
  ["SHA-256 (token check, hash chain)", /node:(internal\/)?crypto/],
  [
    "HTTP: Node's http, Fastify and its plugins",
    /^RegExp: |node:_http|node:internal\/(streams|http|url|stream_base_commons)|node:net|node:events|node_modules\/(fastify|@fastify|find-my-way|secure-json-parse|fast-json-stringify|ajv|fast-uri|toad-cache|fastq|avvio|abstract-logging|rfdc|process-warning|light-my-request|content-type)/,
  ],
  ["garbage collection", /^\(garbage collector\)/],
];

const repoRoot = new URL("../../", import.meta.url).href;

function shortUrl(url: string): string {
  if (url.startsWith(repoRoot)) return url.slice(repoRoot.length);
  return url;
}

/** Where a function lives: a package, a source file, Node itself, or V8's bookkeeping. */
function areaOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const short = shortUrl(url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(short);
  if (pkg) return pkg[1] as string;
  if (short.startsWith("node:")) return short.split("/").slice(0, 2).join("/");
  return short;
}

function top(map: Map<string, number>, busyUs: number, n: number): Entry[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }));
}

/**
 * Sums a profile's samples (each sample is charged the time until the next one), only
 * those taken between `fromUs` and `toUs` of the monotonic clock when given (the clock of
 * `process.hrtime.bigint()`, in µs: the same for every process of the machine).
 */
export function summarize(
  file: string,
  window: { readonly fromUs: number; readonly toUs: number } = { fromUs: 0, toUs: Infinity },
  n = 25,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  const parts = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  const { samples, timeDeltas } = profile;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (at < window.fromUs || at > window.toUs) continue;
    const node = byId.get(samples[i] as number);
    const us = timeDeltas[i + 1] ?? 0;
    if (!node) continue;
    if (node.callFrame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const name =
      url === ""
        ? functionName
        : `${functionName || "(anonymous)"} ${shortUrl(url)}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = `${functionName} ${url}`;
    const part =
      PARTS.find(([, re]) => re.test(where))?.[0] ?? "other (Node internals, V8, the event loop)";
    parts.set(part, (parts.get(part) ?? 0) + us);
  }
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    functions: top(functions, busy, n),
    areas: top(areas, busy, n),
    parts: top(parts, busy, PARTS.length + 1),
  };
}
