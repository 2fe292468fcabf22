/**
 * The check every user of the audit schema makes after migrating it: the SQL stores
 * before their first statement, and the feature stores' statement runners.
 *
 * @module
 */

import type { MigrationResult } from "../audit/types.ts";
import { GuardrailError } from "../kernel/errors.ts";

/**
 * Throws when a migration of `results` failed: nothing can run on a schema left behind.
 *
 * @throws GuardrailError naming the first failed migration and its error.
 */
export function throwIfMigrationFailed(results: readonly MigrationResult[]): void {
  const failed = results.find((r) => r.status === "failed");
  if (failed)
    throw new GuardrailError(`audit schema migration ${failed.version} failed: ${failed.error}`, {
      code: "schema_migration_failed",
    });
}
