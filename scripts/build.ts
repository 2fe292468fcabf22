/**
 * Builds `dist/` (`npm run build`): the JavaScript bundled with rolldown, one file per
 * package entry at the path `package.json` names (`dist/index.js`, `dist/audit/index.js`,
 * `dist/cli/bin.js`, …) plus the chunks they share, and the type declarations from `tsc`
 * (`emitDeclarationOnly`) at the same paths.
 *
 * Why a bundle: Node pays per module file (resolve, read, compile, link), and the root
 * entry spans about sixty source files; as one file, `import "hexarch-guardrails"` loads in
 * a third of the time (see docs/benchmarks.md). Code used by several entries goes in shared
 * chunks, never into two files, so a class is the same class from every subpath
 * (`instanceof PolicyViolation` holds for an error thrown by `hexarch-guardrails/testing`).
 *
 * Every package (dependencies, optional peers, `node:` builtins) stays external: users'
 * installs resolve them as before. A module that finds files next to itself
 * (`new URL("./x", import.meta.url)`, such as the SQLite writer's worker) keeps its own
 * file at its own path, so what it looks for is still beside it.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "rolldown";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(ROOT, "src");

// `--out DIR` builds elsewhere; `--no-types` skips the declarations (tests of the bundle).
const { values: args } = parseArgs({
  options: { out: { type: "string" }, "no-types": { type: "boolean" } },
});
const DIST = args.out === undefined ? join(ROOT, "dist") : resolve(args.out);
// The output directory is emptied first: never the project or a directory above it.
const fromOut = relative(DIST, ROOT);
if (!fromOut.startsWith("..") && !isAbsolute(fromOut))
  throw new Error(`refusing to build into ${DIST}: it holds the project`);

interface PackageJson {
  readonly exports?: Record<string, string | Record<string, string>>;
  readonly bin?: string | Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;

/** `./dist/audit/index.js` → `audit/index` (the entry's name, its path in `dist/` and in `src/`). */
function entryName(target: string): string | undefined {
  const m = /^\.\/dist\/(.+)\.js$/.exec(target);
  return m?.[1];
}

/** Entry name → source file, for every JavaScript file `package.json` points into `dist/`. */
function packageEntries(): Map<string, string> {
  const targets: string[] = [];
  for (const value of Object.values(pkg.exports ?? {})) {
    if (typeof value === "string") targets.push(value);
    else for (const [cond, t] of Object.entries(value)) if (cond !== "types") targets.push(t);
  }
  if (typeof pkg.bin === "string") targets.push(pkg.bin);
  else targets.push(...Object.values(pkg.bin ?? {}));
  const entries = new Map<string, string>();
  for (const target of targets) {
    const name = entryName(target);
    if (name === undefined) continue;
    if (name.includes("*")) {
      // A pattern export (`./dist/integrations/*/index.js`): every matching source file.
      const [before, after] = name.split("*") as [string, string];
      for (const d of readdirSync(join(SRC, before), { withFileTypes: true })) {
        const file = join(SRC, `${before}${d.name}${after}.ts`);
        if (d.isDirectory() && existsSync(file)) entries.set(`${before}${d.name}${after}`, file);
      }
    } else {
      const file = join(SRC, `${name}.ts`);
      if (!existsSync(file))
        throw new Error(`package.json points at ${target}, but ${file} does not exist`);
      entries.set(name, file);
    }
  }
  return entries;
}

/** A source file's name in `dist/`: `src/sqlite/writer-thread.ts` → `sqlite/writer-thread`. */
const nameOf = (file: string): string => relative(SRC, file).replace(/\.ts$/, "");

/**
 * Source files that find something relative to their own file (`new URL("./x",
 * import.meta.url)`, `import.meta.dirname`): each must keep its path in `dist/`, so what
 * it looks for is still beside it. `located` are the modules they find that way (a
 * worker's file), by name: entries of their own.
 */
function selfLocatingModules(): { locators: Map<string, string>; located: Map<string, string> } {
  const locators = new Map<string, string>();
  const located = new Map<string, string>();
  const visit = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, d.name);
      if (d.isDirectory()) visit(file);
      else if (d.name.endsWith(".ts") && !d.name.endsWith(".test.ts")) {
        const code = readFileSync(file, "utf8");
        if (!/new URL\([^;]*import\.meta\.url|import\.meta\.(dirname|filename)/.test(code))
          continue;
        locators.set(nameOf(file), file);
        // `new URL(`./writer-worker${ext}`, import.meta.url)`: the module named, beside it.
        for (const m of code.matchAll(/new URL\(\s*[`"']\.\/([\w.-]+?)(?:\.[jt]s)?[`"'$]/g)) {
          const found = join(dirname(file), `${m[1]}.ts`);
          if (existsSync(found)) located.set(nameOf(found), found);
        }
      }
    }
  };
  visit(SRC);
  return { locators, located };
}

const entries = packageEntries();
const { locators, located } = selfLocatingModules();
const input = Object.fromEntries([...entries, ...located]);
const rootEntry = entries.get("index");
if (rootEntry === undefined) throw new Error("package.json has no root entry (./dist/index.js)");

const common = {
  cwd: ROOT,
  platform: "node",
  // Bare specifiers are packages (dependencies, optional peers) or builtins: never bundled.
  external: (id: string) =>
    !id.startsWith(".") && !id.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(id),
  transform: { target: "es2023" },
  logLevel: "warn",
} as const;

// The modules `import "hexarch-guardrails"` loads, found by bundling the root entry alone.
// They go in one chunk: left to itself, the splitter cuts them into a chunk per set of
// entries that share them (two dozen files for the root), and Node pays per file.
const probe = await build({ ...common, input: { index: rootEntry }, write: false });
const core = new Set(
  probe.output.flatMap((c) => (c.type === "chunk" && c.isEntry ? c.moduleIds : [])),
);
core.delete(rootEntry);

rmSync(DIST, { recursive: true, force: true });

await build({
  ...common,
  input,
  // Entry files may export more than their module (what a chunk of the self-locating
  // modules above imports back); the declarations say what the package exports.
  preserveEntrySignatures: "allow-extension",
  output: {
    codeSplitting: {
      groups: [
        // A module that finds files beside itself: a chunk of its own, at its own path.
        ...[...locators].map(([name, file]) => ({
          name,
          test: (id: string) => id === file,
          priority: 2,
          // Only the module itself: its imports stay where they would be (core, shared).
          includeDependenciesRecursively: false,
        })),
        { name: "core", test: (id: string) => core.has(id), priority: 1 },
      ],
    },
    dir: DIST,
    format: "esm",
    entryFileNames: "[name].js",
    chunkFileNames: (chunk) => (locators.has(chunk.name) ? "[name].js" : "chunks/[name]-[hash].js"),
    // Stack traces name the bundled files, which ship; no source maps (src/ does not ship).
    sourcemap: false,
    // Function and class names stay as written (`fn.name`, error class names).
    keepNames: true,
    minify: false,
    // TSDoc lives in the .d.ts files; the JavaScript Node reads at import stays small.
    comments: false,
  },
});

// The CLI's entry keeps its shebang; make it executable.
const bin = join(DIST, "cli/bin.js");
if (!readFileSync(bin, "utf8").startsWith("#!")) throw new Error(`${bin} lost its shebang`);
chmodSync(bin, 0o755);

// Type declarations, at the same paths as the JavaScript.
if (!args["no-types"]) {
  const tsc = spawnSync(
    process.execPath,
    [
      join(ROOT, "node_modules/typescript/bin/tsc"),
      ...["-p", join(ROOT, "tsconfig.build.json"), "--outDir", DIST],
    ],
    { stdio: "inherit" },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

// The console (`/ui`): built after the bundle, since the output directory was emptied first.
{
  const ui = spawnSync(
    process.execPath,
    [join(ROOT, "scripts/build-ui.ts"), "--out", join(DIST, "ui")],
    { stdio: "inherit" },
  );
  if (ui.status !== 0) process.exit(ui.status ?? 1);
}

const files = readdirSync(DIST, { recursive: true, encoding: "utf8" }).filter((f) =>
  f.endsWith(".js"),
);
console.log(
  `built ${DIST}: ${files.length} JavaScript files (${Object.keys(input).length} entries)${args["no-types"] ? "" : " and their declarations"}`,
);
