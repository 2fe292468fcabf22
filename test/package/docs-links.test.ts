/**
 * Every link from the README, the docs and the examples' README to a file of this
 * repository points at a file that exists: relative links, and the absolute GitHub links
 * the README uses so they work on the npm page too.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REPO = "https://github.com/no1rstack/hexarch-guardrails-ts/";

const PAGES = [
  "README.md",
  "examples/README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** Link targets of a Markdown text, outside fenced code blocks: `[text](target)`. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? "");
}

/** The repository path a link points at, or undefined for a link elsewhere. */
function localPath(page: string, target: string): string | undefined {
  const bare = target.replace(/#.*$/, "");
  if (bare.startsWith(REPO)) {
    const m = bare.slice(REPO.length).match(/^(?:blob|tree)\/main\/(.*)$/);
    return m ? decodeURIComponent(m[1] ?? "") : bare.slice(REPO.length);
  }
  if (bare === "" || /^[a-z][a-z+.-]*:/i.test(bare)) return undefined;
  return relative(ROOT, join(ROOT, dirname(page), decodeURIComponent(bare)));
}

describe("documentation links", () => {
  it("finds the pages and their links", () => {
    expect(PAGES).toContain("docs/README.md");
    expect(linkTargets(readFileSync(join(ROOT, "README.md"), "utf8")).length).toBeGreaterThan(10);
  });

  it.each(PAGES)("%s links only to files that exist", (page) => {
    const broken = linkTargets(readFileSync(join(ROOT, page), "utf8"))
      .map((target) => ({ target, path: localPath(page, target) }))
      .filter(({ path }) => path !== undefined && !existsSync(join(ROOT, path)))
      .map(({ target, path }) => `${target} (${path} does not exist)`);
    expect(broken).toEqual([]);
  });

  it("README links to files of the repository with absolute GitHub links (they work on npm)", () => {
    const relativeLinks = linkTargets(readFileSync(join(ROOT, "README.md"), "utf8")).filter(
      (t) => !/^[a-z][a-z+.-]*:/i.test(t) && !t.startsWith("#"),
    );
    expect(relativeLinks).toEqual([]);
  });

  it("README links with a GitHub address of this repository resolve to a blob or tree on main", () => {
    const elsewhere = linkTargets(readFileSync(join(ROOT, "README.md"), "utf8")).filter(
      (t) => t.startsWith(REPO) && !/^(blob|tree)\/main\//.test(t.slice(REPO.length)),
    );
    expect(elsewhere).toEqual([]);
  });

  it("README's optional peer table has an install line for every peer dependency", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const start = readme.indexOf("## Optional peer dependencies");
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const installed = new Set(
      [...section.matchAll(/`npm install ([^`]+)`/g)].flatMap((m) => (m[1] ?? "").split(" ")),
    );
    const { peerDependencies } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      peerDependencies: Record<string, string>;
    };
    expect(Object.keys(peerDependencies).filter((p) => !installed.has(p))).toEqual([]);
  });

  it("docs/README.md lists every page of docs/", () => {
    const index = readFileSync(join(ROOT, "docs/README.md"), "utf8");
    const listed = new Set(linkTargets(index));
    const pages = readdirSync(join(ROOT, "docs")).filter(
      (f) => f.endsWith(".md") && f !== "README.md",
    );
    expect(pages.filter((p) => !listed.has(p))).toEqual([]);
  });
});
