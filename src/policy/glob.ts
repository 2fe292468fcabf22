/**
 * Glob matching for `resource`, `operation`, `model` and `resource_types` matchers: `*`
 * matches any run of characters (newlines included), `?` one character (one code point,
 * even outside the BMP); everything else is literal and case-sensitive. Matching takes
 * time linear in the value for a given pattern: no regular expression is involved.
 *
 * @module
 */

/** Tests one string. */
export type StringMatcher = (value: string) => boolean;

const always: StringMatcher = () => true;

/** `*` and `?` in a compiled pattern (literal code points are their own numbers). */
const STAR = -1;
const ANY = -2;

/**
 * Compiles one glob pattern. A pattern without wildcards is a plain equality test; any
 * other is matched by a greedy two-pointer scan over code points that backtracks only to
 * the last `*`: at most (value length × pattern length) steps and no regular expression,
 * so `*a*a*a*a*b` against a long resource answers in microseconds (a backtracking
 * `RegExp` took seconds).
 */
export function compileGlob(pattern: string): StringMatcher {
  if (pattern === "*") return always;
  if (!/[*?]/.test(pattern)) return (value) => value === pattern;
  const tokens: number[] = [];
  for (const c of pattern) {
    const t = c === "*" ? STAR : c === "?" ? ANY : (c.codePointAt(0) as number);
    // `**` is `*`.
    if (t !== STAR || tokens[tokens.length - 1] !== STAR) tokens.push(t);
  }
  if (tokens.length === 1 && tokens[0] === STAR) return always;
  return (value) => globMatch(tokens, value);
}

/** Width in UTF-16 units of the code point at `i` (a lone surrogate counts as one). */
function widthAt(value: string, i: number): number {
  const c = value.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
    const d = value.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

function globMatch(tokens: readonly number[], value: string): boolean {
  const n = value.length;
  const m = tokens.length;
  let i = 0; // position in value (UTF-16 units, always on a code point boundary)
  let j = 0; // position in tokens
  let starJ = -1; // token after the last `*` seen
  let starI = 0; // value position that `*` is currently extended to
  while (i < n) {
    const t = j < m ? (tokens[j] as number) : undefined;
    if (t === STAR) {
      starJ = ++j;
      starI = i;
      continue;
    }
    if (t !== undefined) {
      if (t === ANY) {
        i += widthAt(value, i);
        j++;
        continue;
      }
      const c = value.codePointAt(i) as number;
      // A lone surrogate in the value is a code point of its own, as with the `u` flag.
      const w = widthAt(value, i);
      if ((w === 2 ? c : value.charCodeAt(i)) === t) {
        i += w;
        j++;
        continue;
      }
    }
    if (starJ < 0) return false;
    // Let the last `*` take one more code point, and retry the tokens after it.
    starI += widthAt(value, starI);
    i = starI;
    j = starJ;
  }
  while (j < m && tokens[j] === STAR) j++;
  return j === m;
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
