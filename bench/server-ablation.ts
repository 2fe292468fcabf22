/**
 * `npx node bench/server-ablation.ts`: what each part of the decision server costs under
 * `npm run bench:server`'s load (its stream of calls, autocannon at
 * `BENCH_SERVER_CONNECTIONS`, default 64, for `BENCH_SERVER_SECONDS`, default 10, after a
 * 3 s warm-up). The same server is built with parts left out, one variant after another:
 * everything `serve api` runs (the SQLite audit log, logging at `info`, the request
 * limiter, metrics), then without the audit log, without logging too, with nothing but
 * the routes, and a bare Fastify route answering a constant with the same headers (the
 * ceiling of the load generator on this machine). Prints req/s, p50/p99 and the server's
 * CPU per request for each. `ABLATION_VARIANTS` runs other variants instead: `;`-separated
 * lists of the parts `audit`, `log`, `limit`, `metrics` (an empty list is the routes
 * alone, `static` the constant answer), e.g. `ABLATION_VARIANTS="log,audit;log"`.
 *
 * Fastify sets up per-response listeners only when the server logs or has an
 * `onResponse` hook, so logging or metrics measured alone carry that cost, which the two
 * share when both are on.
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { load } from "./server/load.ts";
import { hexarchBody, makeCalls } from "./server/workload.ts";

const SECONDS = Number(process.env.BENCH_SERVER_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_SERVER_CONNECTIONS ?? 64);
const SERVER = fileURLToPath(new URL("./server/ablation-server.ts", import.meta.url));
const TOKEN = randomBytes(24).toString("hex");

const VARIANTS: readonly (readonly [string, string])[] = process.env.ABLATION_VARIANTS
  ? process.env.ABLATION_VARIANTS.split(";").map((v) => [v, v] as const)
  : [
      ["all parts (as serve api)", "audit,log,limit,metrics"],
      ["without the audit log", "log,limit,metrics"],
      ["without audit and logging", "limit,metrics"],
      ["routes only", ""],
      ["constant answer (Fastify)", "static"],
    ];

const bodies = makeCalls(20_000).map(hexarchBody);
const classify = (_i: number, status: number, body: string) =>
  status === 200 ? { label: "ok" } : { wrong: `HTTP ${status}: ${body.slice(0, 200)}` };

console.log(
  `server ablation: ${CONNECTIONS} connections, ${SECONDS} s per variant after a 3 s warm-up\n`,
);
console.log(
  `${"variant".padEnd(28)}${"req/s".padStart(9)}${"p50".padStart(10)}${"p99".padStart(10)}${"CPU/req".padStart(10)}`,
);
for (const [name, parts] of VARIANTS) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ABLATION_PARTS: parts, ABLATION_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${name}: the server exited (${code})`)));
    child.stdout.on("data", (chunk: Buffer) => {
      const m = /ready (\d+)/.exec(String(chunk));
      if (m) resolve(Number(m[1]));
    });
  });
  const options = {
    url: `http://127.0.0.1:${port}`,
    path: "/authorize",
    headers: { authorization: `Bearer ${TOKEN}` },
    bodies,
    start: 0,
    connections: CONNECTIONS,
    classify,
    pid: child.pid,
  };
  try {
    await load({ ...options, seconds: 3 });
    const r = await load({ ...options, seconds: SECONDS });
    if (r.wrong.count > 0 || r.errors > 0) {
      throw new Error(`${name}: ${r.wrong.count} wrong answers (${r.wrong.samples[0]})`);
    }
    console.log(
      `${name.padEnd(28)}${Math.round(r.requestsPerSecond).toLocaleString("en-US").padStart(9)}${`${r.p50Ms.toFixed(2)} ms`.padStart(10)}${`${r.p99Ms.toFixed(1)} ms`.padStart(10)}${`${r.cpuUsPerRequest.toFixed(0)} µs`.padStart(10)}`,
    );
  } finally {
    child.kill();
  }
}
