/**
 * Optional peer dependencies (the `redis` and `pg` drivers, Fastify and its plugins):
 * checked when the store or server that needs them is created, so a missing one is a
 * single error naming every missing package and the command that installs them, instead
 * of a `Cannot find package` on the first call, one package at a time.
 *
 * @module
 */

import { defineErrorCode, GuardrailError } from "../kernel/errors.ts";

/**
 * Packages that a store or server needs are not installed. They are optional peer
 * dependencies of hexarch-guardrails: install them beside it.
 *
 * @example
 * ```ts
 * try {
 *   new RedisStateStore({ url: "redis://localhost:6379" });
 * } catch (err) {
 *   if (err instanceof MissingPeerDependencyError) console.error(err.installCommand);
 *   // npm install redis
 * }
 * ```
 */
export class MissingPeerDependencyError extends GuardrailError {
  /** The packages that are missing, in the order they were asked for. */
  readonly packages: readonly string[];
  /** The command that installs them all: `npm install <packages…>`. */
  readonly installCommand: string;

  /**
   * @param feature what needs the packages, as the message names it (`RedisStateStore`,
   *   `hexarch-ctl serve api`).
   * @param packages the missing packages (at least one).
   */
  constructor(feature: string, packages: readonly string[], options?: ErrorOptions) {
    const installCommand = `npm install ${packages.join(" ")}`;
    super(
      packages.length === 1
        ? `${feature} needs the '${packages[0]}' package: ${installCommand}`
        : `${feature} needs packages that are not installed: ${packages.join(", ")}. Install them with: ${installCommand}`,
      options,
    );
    this.packages = [...packages];
    this.installCommand = installCommand;
  }
}

defineErrorCode(MissingPeerDependencyError, "missing_peer_dependency");

/** Whether `specifier` can be found from here: `true`, `false`, or `undefined` when it cannot be told. */
export type PeerResolver = (specifier: string) => boolean | undefined;

/**
 * Resolves a package as `import()` from this package would (same `node_modules` walk, same
 * export conditions), without loading it: `import.meta.resolve` is synchronous, so
 * constructors can use it. Where it is not available (a bundler rewrote the module), the
 * answer is "cannot tell" and the import itself reports a missing package later.
 */
const resolvesFromHere: PeerResolver = (specifier) => {
  const resolve = (import.meta as { resolve?: (s: string) => string }).resolve;
  if (typeof resolve !== "function") return undefined;
  try {
    resolve(specifier);
    return true;
  } catch (err) {
    // Only "not found" means missing; a package whose exports refuse this condition is there.
    return (err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" ? false : undefined;
  }
};

/**
 * The packages among `packages` that are not installed, in the given order.
 *
 * @param resolve how to look one up; the default resolves from this package, as `import()` does.
 * @internal
 */
export function missingPeers(
  packages: readonly string[],
  resolve: PeerResolver = resolvesFromHere,
): string[] {
  return packages.filter((p) => resolve(p) === false);
}

/**
 * Throws a {@link MissingPeerDependencyError} naming every package of `packages` that is
 * not installed; returns when all are (or when that cannot be told).
 *
 * @param feature what needs them, for the message.
 * @param resolve how to look one up (tests); the default resolves from this package.
 * @internal
 */
export function requirePeers(
  feature: string,
  packages: readonly string[],
  resolve: PeerResolver = resolvesFromHere,
): void {
  const missing = missingPeers(packages, resolve);
  if (missing.length > 0) throw new MissingPeerDependencyError(feature, missing);
}

/**
 * Imports an optional peer with `importer` (a literal `import("pkg")`, so bundlers see it).
 * A package that cannot be found becomes a {@link MissingPeerDependencyError}; any other
 * failure (the package threw while loading) is rethrown as it is.
 *
 * @internal
 */
export async function importPeer<T>(
  feature: string,
  pkg: string,
  importer: () => Promise<T>,
): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND")
      throw new MissingPeerDependencyError(feature, [pkg], { cause: err });
    throw err;
  }
}
