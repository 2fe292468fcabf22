/**
 * Dependencies loaded on first use, synchronously: `zod`, `yaml` and `re2js` cost more
 * than the rest of the root entry together (about 100, 40 and 15 ms), and most programs
 * need them only when a policy file is parsed, a file has a problem to place, or a policy
 * uses `matches`. Keeping them out of the static import graph keeps
 * `import "hexarch-guardrails"` fast; the code that needs one calls its loader.
 *
 * The loaders are synchronous (policy parsing is) and load the module `import` would load
 * — its ESM build, through Node's `require(esm)` — so there is one instance of each
 * package: a zod schema built here and one a user (or another subpath) imports are the
 * same zod.
 *
 * @module
 */

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { GuardrailError } from "../kernel/errors.ts";

const require = createRequire(import.meta.url);

/**
 * The file `import(specifier)` from this module would load. `import.meta.resolve` is
 * synchronous in Node; where it is missing (a bundler rewrote this module), `require`'s own
 * resolution is the fallback.
 */
function resolveAsImport(specifier: string): string {
  const resolve = (import.meta as { resolve?: (s: string) => string }).resolve;
  if (typeof resolve !== "function") return specifier;
  const url = resolve(specifier);
  return url.startsWith("file:") ? fileURLToPath(url) : specifier;
}

/**
 * A loader for `specifier`: the first call loads the module, every call returns it.
 *
 * @example
 * ```ts
 * const loadYaml = lazyModule<typeof import("yaml")>("yaml");
 * loadYaml().parseDocument(text);
 * ```
 * @internal
 */
export function lazyModule<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = require(resolveAsImport(specifier)) as T;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException | undefined)?.code;
        if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw err;
        // Most likely an application bundle that left the package out: it is loaded on
        // first use, where a bundler does not see it.
        throw new GuardrailError(
          `hexarch-guardrails loads '${specifier}' when it is first needed, and it cannot be found from ${import.meta.url}. If you bundle your application, keep '${specifier}' external (with zod, yaml and re2js) and install it beside the bundle`,
          { code: "bundled_module_missing", cause: err },
        );
      }
    }
    return loaded;
  };
}

/** `zod`, loaded on first use. @internal */
export const loadZod: () => typeof import("zod") = lazyModule("zod");

/** `yaml`, loaded on first use. @internal */
export const loadYaml: () => typeof import("yaml") = lazyModule("yaml");

/** `re2js`, loaded on first use. @internal */
export const loadRe2: () => typeof import("re2js") = lazyModule("re2js");
