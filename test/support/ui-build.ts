/**
 * Vitest's global setup: builds the console (`dist/ui`, `npm run build:ui`) before the
 * tests when it is missing or older than its sources (`ui/`, `scripts/build-ui.ts`), so the
 * server's `/ui` and the browser tests see the current UI. About a second when it builds,
 * nothing when it is current.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The newest modification time among `paths` (files, or directories walked). */
function newest(paths: readonly string[]): number {
  let max = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const name of readdirSync(p, { recursive: true, encoding: "utf8" })) {
        const m = statSync(join(p, name)).mtimeMs;
        if (m > max) max = m;
      }
    } else if (s.mtimeMs > max) max = s.mtimeMs;
  }
  return max;
}

/** Builds `dist/ui` when it is missing or stale. */
export default function setup(): void {
  const manifest = join(ROOT, "dist/ui/manifest.json");
  const built = existsSync(manifest) ? statSync(manifest).mtimeMs : 0;
  const sources = newest([
    join(ROOT, "ui"),
    join(ROOT, "scripts/build-ui.ts"),
    join(ROOT, "node_modules/preact/package.json"),
    join(ROOT, "node_modules/uplot/package.json"),
  ]);
  if (built >= sources) return;
  const run = spawnSync(process.execPath, [join(ROOT, "scripts/build-ui.ts"), "--quiet"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (run.status !== 0)
    throw new Error(`building the console (npm run build:ui) failed:\n${run.stderr}${run.stdout}`);
}
