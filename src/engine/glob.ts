/**
 * Glob matching for `resource` and `operation` matchers: `*` matches any run of
 * characters, `?` one character; everything else is literal and case-sensitive.
 *
 * @module
 */

/** Tests one string. */
export type StringMatcher = (value: string) => boolean;

const always: StringMatcher = () => true;

/** Compiles one glob pattern. A pattern without wildcards is a plain equality test. */
export function compileGlob(pattern: string): StringMatcher {
  if (pattern === "*") return always;
  if (!/[*?]/.test(pattern)) return (value) => value === pattern;
  // Split by code point, so that `?` matches one character even outside the BMP.
  const source = [...pattern]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
    .join("");
  const re = new RegExp(`^${source}$`, "su");
  return (value) => re.test(value);
}

/** Compiles a list of globs: matches when any of them does. */
export function compileGlobs(patterns: readonly string[]): StringMatcher {
  if (patterns.includes("*")) return always;
  const literal = patterns.filter((p) => !/[*?]/.test(p));
  const wild = patterns.filter((p) => /[*?]/.test(p)).map(compileGlob);
  if (wild.length === 0) {
    if (literal.length === 1) {
      const only = literal[0];
      return (value) => value === only;
    }
    const set = new Set(literal);
    return (value) => set.has(value);
  }
  const set = new Set(literal);
  return (value) => set.has(value) || wild.some((m) => m(value));
}
