// Rate limiting: each user may make 5 requests a minute; one user's burst does not use up
// anyone else's quota, and refused requests consume nothing.
// Install: `npm install hexarch-guardrails`
// Run: `node rate-limiting.ts` (Node.js 22.18+); in this repository:
// `npx node examples/rate-limiting.ts`
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { ManualClock } from "hexarch-guardrails/testing";

const POLICIES = `
policies:
  - id: per_user_rate
    description: Five search requests per minute for each user
    rules:
      - resource: search
        requests_per_minute: 5
        per: userId
        action: block
`;

interface SearchRequest {
  userId: string;
  query: string;
}

/** A stand-in for the real search backend. */
async function fakeSearch(req: SearchRequest): Promise<string[]> {
  return [`result for "${req.query}"`];
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const clock = new ManualClock("2026-11-25T12:00:00Z");
  const guardian = new Guardian({ policies: POLICIES, env: {}, clock: clock.now });
  // The user comes from the first argument's `userId`; `per: userId` gives each one a counter.
  const search = guardian.check("per_user_rate", { resource: "search" })(fakeSearch);

  const attempt = async (userId: string, n: number): Promise<void> => {
    try {
      await search({ userId, query: `query ${n}` });
      log(`${userId} request ${n}: allowed`);
    } catch (err) {
      if (!(err instanceof PolicyViolation)) throw err;
      log(`${userId} request ${n}: blocked (${err.reason})`);
    }
  };

  log("Limit: 5 requests per minute per user.");
  for (let n = 1; n <= 7; n++) {
    await attempt("alice", n);
    clock.advance(1_000);
  }
  for (let n = 1; n <= 2; n++) await attempt("bob", n);

  clock.advance(60_000);
  log("A minute later, alice's window has slid past her burst:");
  await attempt("alice", 8);
  await guardian.close();
}

if (import.meta.main) await main();
