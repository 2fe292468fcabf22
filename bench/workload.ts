/**
 * The guardrails benchmark workload: a deterministic stream of contexts for the Python
 * README's three policies.
 */

/** One call to decide. */
export interface WorkloadContext {
  readonly userId: string;
  readonly operation: "read" | "write" | "delete";
  readonly resource: "openai" | "postgres";
  readonly confirm?: true;
  readonly cost?: number;
}

/** mulberry32: a small, fast, seeded PRNG (deterministic across runs and machines). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** USD per OpenAI call: ~400k admitted calls × $0.000025 = $10, so the budget warns and then blocks late in the run. */
export const COST_PER_CALL = 0.000025;

/**
 * 1,000 users; operations 70% read / 20% write / 10% delete, half the deletes confirmed;
 * resource "openai" on half the calls (those carry a cost).
 */
export function makeWorkload(count: number, seed = 42): WorkloadContext[] {
  const rand = prng(seed);
  const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
  const out: WorkloadContext[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const userId = users[Math.floor(rand() * users.length)] as string;
    const r = rand();
    const operation = r < 0.7 ? "read" : r < 0.9 ? "write" : "delete";
    const openai = rand() < 0.5;
    const confirmed = operation === "delete" && rand() < 0.5;
    out[i] = {
      userId,
      operation,
      resource: openai ? "openai" : "postgres",
      ...(confirmed && { confirm: true as const }),
      ...(openai && { cost: COST_PER_CALL }),
    };
  }
  return out;
}

/** The benchmark's policy file: the Python README's three policies, with the rate limit per user. */
export const BENCH_POLICIES = `policies:
  - id: api_budget
    rules:
      - resource: openai
        monthly_budget: 10
        action: warn_at_80%
  - id: rate_limit
    rules:
      - resource: "*"
        requests_per_minute: 100
        per: userId
        action: block
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
`;
