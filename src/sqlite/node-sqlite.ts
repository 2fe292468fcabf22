/**
 * Node's built-in `node:sqlite`, loaded when a SQLite store is created rather than imported
 * statically: a static import fails while the module graph is linked, before any code
 * runs, with `No such built-in module: node:sqlite` on a Node.js without it. Loaded here,
 * its absence is an {@link UnsupportedNodeVersionError} naming the version needed.
 *
 * @module
 */

import type * as NodeSqlite from "node:sqlite";
import { atLeast, nodeSupported, UnsupportedNodeVersionError } from "../util/node-floor.ts";

/** The `node:sqlite` module. */
export type NodeSqliteModule = typeof NodeSqlite;

let loaded: NodeSqliteModule | undefined;

/**
 * `node:sqlite`, or an error naming the Node.js version that has it.
 *
 * Feature-detected, not decided by the version number: Node.js 22.5 to 22.12 and 23.0 to
 * 23.3 have the module behind `--experimental-sqlite`, and with that flag it works there too.
 *
 * @param feature what needs it, for the message (`SqliteAuditStore`).
 * @throws UnsupportedNodeVersionError when this Node.js has no `node:sqlite`.
 * @internal
 */
export function nodeSqlite(feature: string): NodeSqliteModule {
  if (loaded) return loaded;
  // process.getBuiltinModule exists from Node.js 22.3 (and 20.16); older ones have no
  // node:sqlite either. It returns undefined for a built-in this Node does not have.
  const mod =
    typeof process.getBuiltinModule === "function"
      ? (process.getBuiltinModule("node:sqlite") as NodeSqliteModule | undefined)
      : undefined;
  if (mod === undefined) {
    const version = process.versions.node;
    throw new UnsupportedNodeVersionError(feature, {
      why: "node:sqlite",
      ...(nodeSupported(version)
        ? { hint: "built without node:sqlite" }
        : atLeast(version, "22.5.0") && {
            hint: "where node:sqlite needs the --experimental-sqlite flag",
          }),
    });
  }
  loaded = mod;
  return mod;
}
