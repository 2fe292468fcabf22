// Webhook throttling: at most 2 deliveries per second to each destination (`per:`), so a
// burst for one receiver is spread out while other receivers are not held up.
// Install: `npm install hexarch-guardrails`
// Run: `node webhook-throttling.ts` (Node.js 22.18+); in this repository:
// `npx node examples/webhook-throttling.ts`
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { ManualClock } from "hexarch-guardrails/testing";

const POLICIES = `
policies:
  - id: webhook_throttle
    description: Do not flood any single receiver
    rules:
      - requests_per_second: 2
        per: destination
        action: block
`;

interface WebhookEvent {
  id: string;
  destination: string;
}

/** A stand-in for the HTTP POST to the receiver. */
async function fakePost(_event: WebhookEvent): Promise<number> {
  return 200;
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const clock = new ManualClock("2026-11-25T12:00:00Z");
  const guardian = new Guardian({ policies: POLICIES, env: {}, clock: clock.now });
  const deliver = guardian.check("webhook_throttle", {
    context: (event: WebhookEvent) => ({ destination: event.destination }),
  })(fakePost);

  const shop = "https://shop.example/hooks/orders";
  const crm = "https://crm.example/hooks/leads";
  let pending: WebhookEvent[] = [
    ...["o1", "o2", "o3", "o4", "o5"].map((id) => ({ id, destination: shop })),
    ...["l1", "l2"].map((id) => ({ id, destination: crm })),
  ];
  log(`Burst of ${pending.length} events: 5 for ${shop}, 2 for ${crm}; limit 2/s per destination.`);

  // A sliding window forgets a burst one window after its last request: retry a second later.
  const RETRY_MS = 1_000;
  for (let elapsed = 0; pending.length > 0; elapsed += RETRY_MS) {
    const t = `t=${elapsed / 1000}s`;
    const retry: WebhookEvent[] = [];
    let why = "";
    for (const event of pending) {
      try {
        await deliver(event);
        log(`${t} ${event.id} -> ${event.destination}: delivered`);
      } catch (err) {
        if (!(err instanceof PolicyViolation)) throw err;
        log(`${t} ${event.id} -> ${event.destination}: throttled, will retry`);
        why = err.reason;
        retry.push(event);
      }
    }
    if (why) log(`  why: ${why}`);
    pending = retry;
    clock.advance(RETRY_MS);
  }
  log("Every event delivered, none faster than 2 per second per destination.");
  await guardian.close();
}

if (import.meta.main) await main();
