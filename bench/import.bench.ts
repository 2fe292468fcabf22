/**
 * The import benchmark (`BENCH_ONLY=import npm run bench`; part of `npm run bench`): how
 * long a cold Node process takes to `import "hexarch-guardrails"` (the built `dist/`, as
 * users load it), beside `import "zod"` alone, and to reach its first decision (import,
 * `new Guardian({ policies })` from YAML text, one `enforce`).
 *
 * Each sample is a fresh process (nothing cached but the OS's file cache); the cases take
 * turns, so a machine that slows down mid-run slows every case alike. Reported: the median,
 * the 90th percentile and the fastest of the wall-clock times, and the median CPU time of
 * the import (user + system, which other processes on a busy machine disturb less).
 */

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 20);

const POLICY = `policies:
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
  - id: rate_limit
    rules:
      - resource: "*"
        requests_per_minute: 100
        action: block
`;

interface Case {
  readonly name: string;
  /** Module code run after the clock starts; the clock stops when it settles. */
  readonly body: string;
}

const CASES: readonly Case[] = [
  { name: 'import "hexarch-guardrails"', body: 'await import("hexarch-guardrails");' },
  { name: 'import "zod" alone', body: 'await import("zod");' },
  {
    name: "first decision (import, new Guardian, enforce)",
    body: `const { Guardian } = await import("hexarch-guardrails");
      const g = new Guardian({ policies: ${JSON.stringify(POLICY)}, mode: "enforce" });
      await g.enforce("rate_limit", { resource: "openai" });`,
  },
];

/** One cold process running `body`: its wall and CPU milliseconds. */
function sample(body: string): { wallMs: number; cpuMs: number } {
  const script = `const c = process.cpuUsage(); const t = performance.now();
    ${body}
    const wall = performance.now() - t; const u = process.cpuUsage(c);
    console.log(JSON.stringify({ wallMs: wall, cpuMs: (u.user + u.system) / 1000 }));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "--eval", script], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").pop() as string) as { wallMs: number; cpuMs: number };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

/** Runs the import benchmark and prints its table. */
export function importBench(): void {
  if (!existsSync(new URL("../dist/index.js", import.meta.url))) {
    console.log("import benchmark: no dist/ (run `npm run build` first); skipped");
    return;
  }
  const samples = CASES.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  sample('await import("hexarch-guardrails");'); // warm the OS's file cache once
  for (let r = 0; r < RUNS; r++) {
    CASES.forEach((c, i) => {
      const s = sample(c.body);
      samples[i]?.wall.push(s.wallMs);
      samples[i]?.cpu.push(s.cpuMs);
    });
  }
  const stats = samples.map(({ wall, cpu }) => {
    const w = [...wall].sort((a, b) => a - b);
    const c = [...cpu].sort((a, b) => a - b);
    return {
      median: quantile(w, 0.5),
      p90: quantile(w, 0.9),
      min: w[0] as number,
      cpu: quantile(c, 0.5),
    };
  });
  console.log(
    `\ncold import, ${RUNS} fresh processes per case (node ${process.version}, dist/ as built):`,
  );
  console.log(`${"case".padEnd(48)}    median       p90       min  cpu median  median vs zod`);
  const zod = stats[1]?.median ?? Number.NaN;
  CASES.forEach((c, i) => {
    const s = stats[i];
    if (!s) return;
    console.log(
      `${c.name.padEnd(48)}  ${ms(s.median)}  ${ms(s.p90)}  ${ms(s.min)}  ${ms(s.cpu).padStart(10)}  ${(s.median / zod).toFixed(2)}x`,
    );
  });
}

function ms(n: number): string {
  return `${n.toFixed(1)} ms`.padStart(8);
}

if (import.meta.main) importBench();
