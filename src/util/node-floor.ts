/**
 * The Node.js versions hexarch-guardrails runs on, and the error for another one.
 *
 * They are set by `node:sqlite` (the default audit log), built in without a flag from
 * Node.js 22.13 on the 22 line and from 23.4 on (23.0 to 23.3 have it behind a flag only).
 * This module loads nothing itself, so the CLI can check the version before it imports
 * anything that would fail on an older Node with a less helpful error.
 *
 * @module
 */

import { defineErrorCode, GuardrailError } from "../kernel/errors.ts";

/**
 * The oldest Node.js version supported: the first with `node:sqlite` built in without a
 * flag. On the 23 line that is 23.4 ({@link NODE_ENGINES}).
 */
export const NODE_FLOOR = "22.13.0";

/** The supported versions as `engines.node` of `package.json` says them. */
export const NODE_ENGINES = "^22.13.0 || >=23.4.0";

/** `[major, minor, patch]` of a version such as `22.12.0` or `v24.1.0-nightly`; missing parts are 0. */
function parts(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version
    .replace(/^v/, "")
    .split(/[.-]/)
    .slice(0, 3)
    .map((p) => Number.parseInt(p, 10) || 0);
  return [major, minor, patch];
}

/**
 * Whether `version` is at least `floor` (both like `22.13.0`).
 *
 * @example
 * ```ts
 * atLeast("22.12.0", "22.13.0"); // false
 * atLeast("24.1.0", "22.13.0"); // true
 * ```
 * @internal
 */
export function atLeast(version: string, floor: string): boolean {
  const a = parts(version);
  const b = parts(floor);
  for (let i = 0; i < 3; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number);
  }
  return true;
}

/**
 * The oldest version a user on `version` should move to: 23.4 on the 23 line (whose first
 * releases lack `node:sqlite` without a flag), else {@link NODE_FLOOR}.
 *
 * @internal
 */
export function requiredNode(version: string = process.versions.node): string {
  return parts(version)[0] === 23 ? "23.4.0" : NODE_FLOOR;
}

/**
 * Whether `version` is one hexarch-guardrails supports ({@link NODE_ENGINES}).
 *
 * @example
 * ```ts
 * nodeSupported("22.13.0"); // true
 * nodeSupported("23.3.0"); // false: node:sqlite needs a flag there
 * ```
 * @internal
 */
export function nodeSupported(version: string = process.versions.node): boolean {
  return atLeast(version, requiredNode(version));
}

/**
 * The running Node.js is older than a feature needs.
 *
 * @example
 * ```ts
 * try {
 *   new SqliteAuditStore("decisions.db");
 * } catch (err) {
 *   if (err instanceof UnsupportedNodeVersionError) console.error(err.message);
 *   // SqliteAuditStore needs Node.js 22.13 or later (node:sqlite); this is Node.js 22.12.0, …
 * }
 * ```
 */
export class UnsupportedNodeVersionError extends GuardrailError {
  /** The oldest version that works, such as `"22.13.0"`. */
  readonly required: string;
  /** The running version, without the `v` (`process.versions.node`). */
  readonly actual: string;

  /**
   * @param feature what needs the newer Node, for the message (`hexarch-ctl`, `SqliteAuditStore`).
   * @param options `actual`: the running version (default `process.versions.node`);
   *   `required`: the version needed (default: the one `nodeSupported` asks of
   *   `actual`); `why`: the part of Node it needs, in parentheses after the version
   *   (`node:sqlite`); `hint`: what else to know, after the running version.
   */
  constructor(
    feature: string,
    options: { required?: string; actual?: string; why?: string; hint?: string } = {},
  ) {
    const actual = options.actual ?? process.versions.node;
    const required = options.required ?? requiredNode(actual);
    const short = required.replace(/\.0$/, "");
    super(
      `${feature} needs Node.js ${short} or later${options.why ? ` (${options.why})` : ""}; this is Node.js ${actual}${options.hint ? `, ${options.hint}` : ""}`,
    );
    this.required = required;
    this.actual = actual;
  }
}

defineErrorCode(UnsupportedNodeVersionError, "unsupported_node_version");

/**
 * The problem with running `feature` on Node.js `version`, as one line, or `undefined` when
 * the version is supported. Used by the CLI before it loads anything else.
 *
 * @internal
 */
export function nodeFloorProblem(
  feature: string,
  version: string = process.versions.node,
): string | undefined {
  return nodeSupported(version)
    ? undefined
    : new UnsupportedNodeVersionError(feature, { actual: version }).message;
}
