// Async batch: OCR a queue of documents under a daily budget. The loop stops cleanly at the
// first PolicyViolation, reports how far it got, and leaves the rest for the next run.
// Install: `npm install hexarch-guardrails`
// Run: `node async-batch.ts` (Node.js 22.18+); in this repository:
// `npx node examples/async-batch.ts`
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { ManualClock } from "hexarch-guardrails/testing";

const POLICIES = `
policies:
  - id: ocr_budget
    description: At most 50 cents of OCR a day
    rules:
      - resource: ocr
        daily_budget: 0.5
        action: block
`;

const USD_PER_PAGE = 0.01;

interface Doc {
  id: string;
  pages: number;
}

/** A stand-in for a paid OCR service: asynchronous, no network. */
async function fakeOcr(doc: Doc): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return `${doc.pages} pages of text from ${doc.id}`;
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const clock = new ManualClock("2026-11-25T08:00:00Z");
  const guardian = new Guardian({ policies: POLICIES, env: {}, clock: clock.now });
  const ocr = guardian.check("ocr_budget", {
    resource: "ocr",
    cost: (doc: Doc) => doc.pages * USD_PER_PAGE,
  })(fakeOcr);

  const pages = [12, 8, 15, 6, 11, 20, 3, 9];
  const queue: Doc[] = pages.map((p, i) => ({
    id: `invoice-${String(i + 1).padStart(2, "0")}`,
    pages: p,
  }));
  log(`Queue: ${queue.length} documents, budget $0.50 a day at $${USD_PER_PAGE} a page.`);

  /** Processes docs in order until done or refused; returns how many it finished. */
  const runBatch = async (docs: Doc[]): Promise<number> => {
    let done = 0;
    for (const doc of docs) {
      try {
        await ocr(doc);
      } catch (err) {
        if (!(err instanceof PolicyViolation)) throw err; // a real failure: let it surface
        log(`Stopped at ${doc.id} (${doc.pages} pages): ${err.reason}`);
        break;
      }
      done++;
      log(`${doc.id}: ${doc.pages} pages done`);
    }
    log(`Processed ${done} of ${docs.length} documents.`);
    return done;
  };

  const done = await runBatch(queue);
  const left = queue.slice(done);
  log(`Left for tomorrow: ${left.map((d) => d.id).join(", ") || "nothing"}`);
  clock.set("2026-11-26T08:00:00Z");
  log("Next day, a fresh budget; resuming:");
  await runBatch(left);
  await guardian.close();
}

if (import.meta.main) await main();
