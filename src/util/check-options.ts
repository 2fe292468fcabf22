/**
 * Checking a constructor's options at construction: each option against a small rule, and
 * mistyped keys caught with a "did you mean". Every refusal is an {@link InvalidOptionError}
 * whose message reads `<Owner>: <option> must be <expected>, got <given>`.
 *
 * Rules are plain objects built once at module load; checking costs a few `typeof` tests
 * per option (a Guardian is built often in tests). Nothing here loads a schema library:
 * this module sits on the root import path.
 *
 * @module
 * @internal
 */

import { InvalidOptionError } from "../kernel/errors.ts";
import { describeValue } from "./describe.ts";
import { editDistance } from "./suggest.ts";

/** What one option takes. `undefined` means "the default" and passes, unless `required`. */
export interface OptionRule {
  /** The words completing `<option> must be …`, e.g. `"a path string"`. */
  readonly expected: string;
  /** True when `value` (never `undefined`) is acceptable. */
  readonly test: (value: unknown) => boolean;
  /** How a refused value is described after `got`. Default: the value itself, strings quoted. */
  readonly got?: (value: unknown) => string;
  /** The option must be given (`undefined` is refused too). */
  readonly required?: boolean;
}

/** The rules of a constructor's options, by option name. */
export type OptionRules = Readonly<Record<string, OptionRule>>;

/**
 * A rule for every option of `T`, and no other: `rules satisfies RulesFor<GuardianOptions>`
 * fails to compile when an option is added without a rule (or a rule outlives its option).
 */
export type RulesFor<T> = { readonly [K in keyof T]-?: OptionRule };

/** Builds the error for one option: `<owner>: <option> must be <expected>, got <given>`. */
export function invalidOption(
  owner: string | undefined,
  option: string,
  expected: string,
  value: unknown,
  got: string = describeValue(value),
): InvalidOptionError {
  const head = owner === undefined ? "" : `${owner}: `;
  return new InvalidOptionError(`${head}${option} must be ${expected}, got ${got}`, {
    option,
    owner,
  });
}

/** Throws unless `value` (when given) passes `rule`. Returns the value. */
export function checkOption<T>(
  owner: string | undefined,
  option: string,
  value: T,
  rule: OptionRule,
): T {
  if (value === undefined ? rule.required : !rule.test(value)) {
    throw invalidOption(owner, option, rule.expected, value, rule.got?.(value));
  }
  return value;
}

const normalized = (key: string): string => key.toLowerCase().replace(/[-_\s]/g, "");

/**
 * The known key `key` is most likely a typo of (`policyfile`, `policy_file` → `policyFile`;
 * `timeout` → `timeoutMs`), or `undefined` when none is close.
 */
export function likelyTypo(key: string, known: readonly string[]): string | undefined {
  const wanted = normalized(key);
  // Strict on purpose: a false "did you mean" rejects someone else's setting spread into
  // the options (`model` is not a typo of `mode`, nor `status` of `state`). Only case and
  // separators (`policy_file`), a cut-off name (`timeout`), or one slip in a long name
  // (`polices`, two in a name of ten letters or more) count.
  const slips = wanted.length >= 10 ? 2 : wanted.length >= 6 ? 1 : 0;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const candidate = normalized(k);
    if (candidate === wanted) return k;
    if (wanted.length >= 4 && candidate.startsWith(wanted)) return k;
    const d = editDistance(wanted, candidate);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= slips ? best : undefined;
}

/**
 * Checks an options object: that it is an object (`undefined` counts as `{}`), that each
 * option in `rules` passes its rule (and required ones are given), and that no key is a
 * near miss of a known option (`policyfile` for `policyFile`). Keys that resemble no
 * option are left alone, so objects carrying other settings (a config spread into the
 * options) keep working.
 *
 * @throws InvalidOptionError for the first option at fault.
 */
export function checkOptions(owner: string, options: unknown, rules: OptionRules): void {
  if (
    options !== undefined &&
    (options === null || typeof options !== "object" || Array.isArray(options))
  ) {
    throw invalidOption(owner, "options", "an object", options);
  }
  const record = (options ?? {}) as Readonly<Record<string, unknown>>;
  for (const option in rules) {
    const rule = rules[option] as OptionRule;
    const value = record[option];
    if (value === undefined ? rule.required : !rule.test(value)) {
      throw invalidOption(owner, option, rule.expected, value, rule.got?.(value));
    }
  }
  for (const key of Object.keys(record)) {
    if (Object.hasOwn(rules, key) || record[key] === undefined) continue;
    const typo = likelyTypo(key, Object.keys(rules));
    if (typo !== undefined) {
      throw new InvalidOptionError(`${owner}: "${key}" is not an option; did you mean "${typo}"?`, {
        option: key,
        owner,
      });
    }
  }
}

// ---- Rules ------------------------------------------------------------------------------

/** A string (any, or described by `expected`). */
export function stringRule(expected = "a string"): OptionRule {
  return { expected, test: (v) => typeof v === "string" };
}

/** A string with at least one character. */
export function nonEmptyStringRule(expected = "a non-empty string"): OptionRule {
  return { expected, test: (v) => typeof v === "string" && v !== "" };
}

/** `true` or `false`. */
export const booleanRule: OptionRule = {
  expected: "true or false",
  test: (v) => typeof v === "boolean",
};

/** A function (`expected` says which, e.g. `"a function returning ms since the epoch"`). */
export function functionRule(expected = "a function"): OptionRule {
  return { expected, test: (v) => typeof v === "function" };
}

/** One of a few strings. */
export function oneOfRule(values: readonly string[]): OptionRule {
  const quoted = values.map((v) => JSON.stringify(v));
  const expected =
    quoted.length > 1
      ? `one of ${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`
      : `${quoted[0]}`;
  return { expected, test: (v) => typeof v === "string" && values.includes(v) };
}

/** A timeout: a positive number of ms, or `Infinity` for none. */
export const positiveMsRule: OptionRule = {
  expected: "a positive number of milliseconds (or Infinity)",
  test: (v) => typeof v === "number" && v > 0,
};

/** A duration that must be finite and above zero. */
export const positiveFiniteMsRule: OptionRule = {
  expected: "a positive, finite number of milliseconds",
  test: (v) => typeof v === "number" && Number.isFinite(v) && v > 0,
};

/** A duration that may be zero. */
export const nonNegativeMsRule: OptionRule = {
  expected: "a non-negative, finite number of milliseconds",
  test: (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
};

/** A whole number from `min` to `max`. */
export function integerRule(min: number, max = Number.MAX_SAFE_INTEGER): OptionRule {
  const expected =
    max === Number.MAX_SAFE_INTEGER
      ? `an integer of at least ${min}`
      : `an integer from ${min} to ${max}`;
  return {
    expected,
    test: (v) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max,
  };
}

/** An object (not `null`, not an array), such as `env` or `headers`. */
export function objectRule(expected = "an object"): OptionRule {
  return {
    expected,
    test: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  };
}

/** The names among `methods` that `v` lacks as functions. */
function missingMethods(v: unknown, methods: readonly string[]): string[] {
  const o = v as Record<string, unknown>;
  return methods.filter((m) => typeof o[m] !== "function");
}

function listed(names: readonly string[]): string {
  return names.length > 1
    ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`
    : `${names[0]}`;
}

/**
 * An object with these methods: an implementation of an interface such as `StateStore`.
 * A refused object is described by the methods it lacks (`an object without adjust`).
 */
export function methodsRule(typeName: string, methods: readonly string[]): OptionRule {
  const what = methods.length > 1 ? `${listed(methods)} methods` : `a ${methods[0]} method`;
  const article = /^[AEIOU]/.test(typeName) ? "an" : "a";
  return {
    expected: `${article} ${typeName} (an object with ${what})`,
    test: (v) =>
      v !== null &&
      (typeof v === "object" || typeof v === "function") &&
      missingMethods(v, methods).length === 0,
    got: (v) => {
      if (v === null || (typeof v !== "object" && typeof v !== "function")) return describeValue(v);
      const missing = missingMethods(v, methods);
      return missing.length === methods.length
        ? `${describeValue(v)} without them`
        : `${describeValue(v)} without ${listed(missing)}`;
    },
  };
}

/** An object with at least one of these methods (`decide` or `checkPolicy`). */
export function someMethodRule(expected: string, methods: readonly string[]): OptionRule {
  return {
    expected,
    test: (v) =>
      v !== null &&
      (typeof v === "object" || typeof v === "function") &&
      missingMethods(v, methods).length < methods.length,
    got: (v) =>
      v !== null && typeof v === "object"
        ? `${describeValue(v)} without ${methods.join(" or ")}`
        : describeValue(v),
  };
}

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== "string" && !(v instanceof URL)) return false;
  try {
    const { protocol } = new URL(String(v));
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * A URL shown without what may be a credential (a refused URL may still carry one): its
 * user name, password and query string are masked.
 */
export function describeUrl(v: unknown): string {
  if (typeof v !== "string" && !(v instanceof URL)) return describeValue(v);
  try {
    const url = new URL(String(v));
    if (!url.username && !url.password && !url.search) return describeValue(String(v));
    if (url.username) url.username = "***";
    if (url.password) url.password = "***";
    if (url.search) url.search = "?***";
    return describeValue(url.href);
  } catch {
    return /[@?]/.test(String(v))
      ? `a string that is not a URL (${String(v).length} characters)`
      : describeValue(String(v));
  }
}

/** How a refused secret is shown: its kind and length, never its value. */
export function describeSecret(v: unknown): string {
  if (typeof v === "string") return `a string of ${v.length} characters`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v === "number" || typeof v === "bigint" ? `a ${typeof v}` : describeValue(v);
}

/** A secret string (a token): a refused value is described by kind and length only. */
export function secretStringRule(expected = "a string"): OptionRule {
  return { expected, test: (v) => typeof v === "string", got: describeSecret };
}

/** An `http:` or `https:` URL, as a string (or a `URL`). A refused URL is shown without its password. */
export function httpUrlRule(expected = "an http(s) URL"): OptionRule {
  return { expected, test: isHttpUrl, got: describeUrl };
}

/**
 * An option checked elsewhere (by a helper the constructor hands it to): listed so that
 * the mistyped-key check knows it.
 */
export const checkedElsewhere: OptionRule = { expected: "", test: () => true };

/** `rule`, required: `undefined` is refused. */
export function required(rule: OptionRule): OptionRule {
  return { ...rule, required: true };
}

/** A value that passes any of `rules`, described by `expected`. */
export function anyOfRule(expected: string, rules: readonly OptionRule[]): OptionRule {
  return { expected, test: (v) => rules.some((r) => r.test(v)) };
}
