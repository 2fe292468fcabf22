/**
 * Options every SQL store checks the same way: the PostgreSQL schema its tables live in,
 * and a SQLite file that must be a real file.
 *
 * @module
 * @internal
 */

import { InvalidOptionError } from "../kernel/errors.ts";
import { checkOption, type OptionRule } from "../util/check-options.ts";

/** A schema name the stores write into their SQL unquoted-safe: a plain identifier. */
const SCHEMA_RULE: OptionRule = {
  expected: "a plain identifier (a letter or _, then up to 62 letters, digits or _)",
  test: (v) => typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(v),
};

/**
 * The `schema` option of a PostgreSQL store, checked (it is written into SQL).
 * @throws InvalidOptionError for a name that is not a plain identifier.
 */
export function checkSchema(owner: string, schema: string | undefined): string {
  return checkOption(owner, "schema", schema, SCHEMA_RULE) ?? "public";
}

/**
 * Refuses `:memory:` (or an empty path) for a store that must share a file with others.
 * @param hint what to do instead, after a semicolon.
 * @throws InvalidOptionError for `""` or `":memory:"`.
 */
export function checkDatabaseFile(owner: string, path: string, hint?: string): void {
  if (path === "" || path === ":memory:") {
    throw new InvalidOptionError(
      `${owner} needs a database file, not ${JSON.stringify(path)}${hint ? `; ${hint}` : ""}`,
      { option: "path", owner },
    );
  }
}
