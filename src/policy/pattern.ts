/**
 * `matches` patterns, compiled with RE2: matching time is linear in the value, and a
 * pattern RE2 cannot run is refused when the policy loads.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import { loadRe2 } from "../util/lazy-module.ts";

/** A compiled `matches` pattern: `test` searches the whole value in linear time. */
export interface CompiledPattern {
  /** True when the pattern matches anywhere in `value` (like `RegExp.prototype.test`). */
  test(value: string): boolean;
}

/** Compiled patterns by source, so a pattern checked at load is not compiled again. */
const patternCache = new Map<string, CompiledPattern>();
const PATTERN_CACHE_MAX = 4096;

/**
 * Compiles a `matches` pattern with RE2 (re2js, pure JavaScript), whose matching time is
 * linear in the value: a pattern from a policy file or an API rule cannot stall the event
 * loop (`^(a+)+$` against a long value answers in milliseconds, where `RegExp` backtracks
 * for hours). RE2 has no backreferences and no lookaround; such a pattern is refused here,
 * when the policy loads, never at decision time.
 *
 * @throws GuardrailError (code `pattern_invalid`) whose message says why RE2 refuses the pattern.
 */
export function compilePattern(source: string): CompiledPattern {
  let compiled = patternCache.get(source);
  if (compiled) return compiled;
  // re2js loads with the first pattern: most policies have none.
  const { RE2JS, RE2JSException } = loadRe2();
  try {
    const re = RE2JS.compile(source);
    compiled = { test: (value) => re.test(value) };
  } catch (err) {
    const why = /\(\?<?[=!]/.test(source)
      ? "lookahead and lookbehind are not supported"
      : /\\[1-9]/.test(source)
        ? "backreferences are not supported"
        : /\\u/.test(source)
          ? "write \\x{00e9}, not \\u00e9"
          : err instanceof RE2JSException
            ? err.message
            : String(err);
    const shown = source.length > 80 ? `${source.slice(0, 80)}…` : source;
    throw new GuardrailError(
      `invalid regular expression /${shown}/: ${why} (patterns use RE2 syntax, matched in linear time)`,
      { code: "pattern_invalid", cause: err },
    );
  }
  // A bounded cache: patterns from API rules are caller-supplied.
  if (patternCache.size >= PATTERN_CACHE_MAX) patternCache.clear();
  patternCache.set(source, compiled);
  return compiled;
}
