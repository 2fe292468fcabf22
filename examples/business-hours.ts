// Business hours: customer reminders may go out only 09:00-17:00 on weekdays, Berlin time
// (summer time included). A ManualClock sets the instant each attempt is decided at.
// Install: `npm install hexarch-guardrails`
// Run: `node business-hours.ts` (Node.js 22.18+); in this repository:
// `npx node examples/business-hours.ts`
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { ManualClock } from "hexarch-guardrails/testing";

const POLICIES = `
policies:
  - id: business_hours
    description: Contact customers only during office hours in Berlin
    timezone: Europe/Berlin
    rules:
      - allowed_hours: "09:00-17:00"
        allowed_days: weekdays
        action: block
`;

const berlin = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/Berlin",
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});

/** A stand-in for the mailer. */
async function fakeSendReminder(customer: string): Promise<string> {
  return `reminder sent to ${customer}`;
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const clock = new ManualClock();
  const guardian = new Guardian({ policies: POLICIES, env: {}, clock: clock.now });
  const sendReminder = guardian.check("business_hours")(fakeSendReminder);

  const instants = [
    "2026-03-30T06:30:00Z", // Monday after the switch to summer time (UTC+2): 08:30
    "2026-03-30T07:30:00Z", // the same Monday, 09:30
    "2026-11-25T09:30:00Z", // Wednesday morning, winter time (UTC+1)
    "2026-11-25T16:00:00Z", // Wednesday 17:00: the window's end is exclusive
    "2026-11-28T10:00:00Z", // Saturday
  ];
  for (const at of instants) {
    clock.set(at);
    const local = berlin.format(new Date(at));
    try {
      log(`${at} (${local}): ${await sendReminder("ada@example.com")}`);
    } catch (err) {
      if (!(err instanceof PolicyViolation)) throw err;
      log(`${at} (${local}): blocked: ${err.reason}`);
    }
  }
  await guardian.close();
}

if (import.meta.main) await main();
