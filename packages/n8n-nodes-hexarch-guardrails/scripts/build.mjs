// Builds the package as `n8n-node build` does: TypeScript to CommonJS in dist/, then the
// icons and the nodes' codex (.node.json) files copied beside the compiled code.
// `node scripts/build.mjs [outDir]` (default dist/; the tests build into a temporary folder).
import { spawnSync } from "node:child_process";
import { cpSync, globSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = resolve(process.argv[2] ?? join(root, "dist"));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(outDir, { recursive: true, force: true });
const run = spawnSync(
  process.execPath,
  [tsc, "-p", join(root, "tsconfig.json"), "--outDir", outDir],
  {
    stdio: "inherit",
  },
);
if (run.status !== 0) process.exit(run.status ?? 1);

for (const file of globSync(
  ["icons/*.svg", "nodes/**/*.{svg,png,json}", "credentials/**/*.{svg,png}"],
  { cwd: root },
)) {
  mkdirSync(dirname(join(outDir, file)), { recursive: true });
  cpSync(join(root, file), join(outDir, file));
}
