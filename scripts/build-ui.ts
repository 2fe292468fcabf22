/**
 * Builds the console (`npm run build:ui`): `ui/` (Preact, TSX) bundled by rolldown into
 * `dist/ui/`: `index.html`, one content-hashed JavaScript file, one content-hashed CSS file
 * (uPlot's styles and `ui/styles.css`) and `manifest.json`, the list of files the server
 * serves (`src/server/ui.ts` reads them into memory at start; nothing else is served).
 *
 * The JavaScript of the first page must stay under {@link BUDGET_GZIP_BYTES} gzipped: the
 * build prints each file's size, raw and gzipped, and fails above the budget.
 *
 * `--out DIR` builds elsewhere (tests); `--quiet` prints nothing but errors.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "rolldown";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const UI = join(ROOT, "ui");

const { values: args } = parseArgs({
  options: { out: { type: "string" }, quiet: { type: "boolean" }, budget: { type: "string" } },
});
/** The most the first page's JavaScript may weigh, gzipped (`--budget BYTES` lowers it, for tests). */
const BUDGET_GZIP_BYTES = args.budget === undefined ? 150 * 1024 : Number(args.budget);
if (!Number.isInteger(BUDGET_GZIP_BYTES) || BUDGET_GZIP_BYTES < 1)
  throw new Error(`--budget takes a number of bytes, got ${args.budget}`);
const OUT = args.out === undefined ? join(ROOT, "dist/ui") : resolve(args.out);
const fromOut = relative(OUT, ROOT);
if (!fromOut.startsWith("..") && !isAbsolute(fromOut))
  throw new Error(`refusing to build into ${OUT}: it holds the project`);

const hashOf = (text: string | Uint8Array): string =>
  createHash("sha256").update(text).digest("hex").slice(0, 12);

// The JavaScript: one file, minified, for browsers.
const result = await build({
  cwd: ROOT,
  input: join(UI, "main.tsx"),
  platform: "browser",
  tsconfig: join(UI, "tsconfig.json"),
  transform: { target: "es2022" },
  logLevel: "warn",
  write: false,
  output: { format: "esm", minify: true, sourcemap: false, comments: false },
});
const chunks = result.output.filter((o) => o.type === "chunk");
if (chunks.length !== 1 || chunks[0] === undefined)
  throw new Error(`expected one JavaScript file, got ${chunks.length}`);
const js = chunks[0].code;

// The CSS: uPlot's own file (it injects none), then ours, lightly minified.
const minifyCss = (css: string): string =>
  css
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\s+/g, " ")
    .replace(/\s*([{}:;,>])\s*/g, "$1")
    .replace(/;}/g, "}")
    .trim();
const css = [
  readFileSync(join(ROOT, "node_modules/uplot/dist/uPlot.min.css"), "utf8").trim(),
  minifyCss(readFileSync(join(UI, "styles.css"), "utf8")),
].join("\n");

const jsName = `app-${hashOf(js)}.js`;
const cssName = `app-${hashOf(css)}.css`;
const template = readFileSync(join(UI, "index.html"), "utf8");
if (!template.includes("<!--styles-->") || !template.includes("<!--scripts-->"))
  throw new Error("ui/index.html lacks the <!--styles--> or <!--scripts--> marker");
const html = template
  .replace("<!--styles-->", `<link rel="stylesheet" href="./${cssName}" />`)
  .replace("<!--scripts-->", `<script type="module" src="./${jsName}"></script>`);

/** One built file, as `manifest.json` lists it. */
interface BuiltFile {
  readonly name: string;
  readonly type: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Content-hashed: cacheable for ever. */
  readonly immutable: boolean;
}
const files: { file: BuiltFile; body: string }[] = [
  [jsName, "text/javascript; charset=utf-8", js, true],
  [cssName, "text/css; charset=utf-8", css, true],
  ["index.html", "text/html; charset=utf-8", html, false],
].map(([name, type, body, immutable]) => ({
  file: {
    name: name as string,
    type: type as string,
    bytes: Buffer.byteLength(body as string),
    gzipBytes: gzipSync(body as string, { level: 9 }).length,
    immutable: immutable as boolean,
  },
  body: body as string,
}));

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
if (!args.quiet)
  for (const { file } of files)
    console.log(
      `  ${file.name.padEnd(24)} ${kb(file.bytes).padStart(9)}  gzip ${kb(file.gzipBytes)}`,
    );
// Over the budget: nothing is written (a previous build stays as it was).
const jsGzip = files[0]?.file.gzipBytes ?? 0;
if (jsGzip > BUDGET_GZIP_BYTES) {
  console.error(
    `the console's JavaScript is ${kb(jsGzip)} gzipped: over the ${kb(BUDGET_GZIP_BYTES)} budget`,
  );
  process.exit(1);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const { file, body } of files) writeFileSync(join(OUT, file.name), body);
const manifest = {
  entry: jsName,
  css: cssName,
  budgetGzipBytes: BUDGET_GZIP_BYTES,
  files: files.map((f) => f.file),
};
writeFileSync(join(OUT, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
if (!args.quiet) console.log(`built ${OUT}`);
