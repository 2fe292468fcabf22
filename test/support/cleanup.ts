/**
 * Clean-up shared by test files: temporary databases removed after the file, and things to
 * close after each test (in the reverse order they were opened).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";

/**
 * A maker of fresh SQLite paths (`<tmp>/<prefix>-XXXX/decisions.db`); every directory is
 * removed after the test file.
 */
export function tempDbs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    dirs.push(dir);
    return join(dir, "decisions.db");
  };
}

/** A list to push closers onto; each test's are awaited after it, newest first. */
export function closeAfterEach(): (() => Promise<unknown>)[] {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  return closers;
}
