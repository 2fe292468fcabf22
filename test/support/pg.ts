/**
 * The PostgreSQL server the integration tests use, and whether it answers: in CI an
 * unreachable server fails the tests; elsewhere they skip with a printed notice.
 */
import pg from "pg";

/** The test server (`HEXARCH_TEST_PG_URL` overrides it). */
export const PG_URL = process.env.HEXARCH_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let answer: Promise<boolean> | undefined;

/**
 * True when PostgreSQL answers. When it does not: throws in CI (`CI` set), else prints
 * that `what` is skipped and returns false.
 */
export async function pgReachable(what: string): Promise<boolean> {
  answer ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      return false;
    }
  })();
  if (await answer) return true;
  if (process.env.CI)
    throw new Error(`PostgreSQL is not reachable at ${PG_URL} (CI needs it for ${what})`);
  console.warn(`[skip] PostgreSQL is not reachable at ${PG_URL}: ${what} skipped`);
  return false;
}
