import { describe, expect, it } from "vitest";
import {
  type Decision,
  LocalDecisionClient,
  PolicyFileError,
  parsePolicies,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

/**
 * A client over a YAML policy file and a manual clock. `at(iso)` moves the clock and
 * decides policy `policy` (default `p`) for `ctx`.
 */
function setup(yaml: string, start = "2026-01-01T00:00:00Z") {
  const clock = new ManualClock(start);
  const client = new LocalDecisionClient({ policies: parsePolicies(yaml), clock: clock.now });
  const decide = async (policy = "p", ctx: Record<string, unknown> = {}): Promise<Decision> =>
    client.decide(policy, ctx);
  const at = async (
    iso: string,
    policy = "p",
    ctx: Record<string, unknown> = {},
  ): Promise<Decision> => {
    clock.set(iso);
    return decide(policy, ctx);
  };
  /** Whether policy `policy` lets the call through at `iso`. */
  const allowedAt = async (iso: string, policy = "p", ctx: Record<string, unknown> = {}) =>
    (await at(iso, policy, ctx)).allowed;
  return { client, clock, decide, at, allowedAt };
}

/** One policy `p` with one rule built from `rule` (YAML lines, indented by the caller). */
const onePolicy = (rule: string, policyExtra = "") => `
policies:
  - id: p${policyExtra}
    rules:
      - ${rule.trim().replace(/\n\s*/g, "\n        ")}
`;

describe("allowed_hours across daylight-saving changes", () => {
  const NY = onePolicy(`
    id: office_hours
    allowed_hours: "09:00-17:00"
    timezone: America/New_York
  `);

  // Each row: instant, local wall time, allowed?
  const springForward: [string, string, boolean][] = [
    // Saturday 2026-03-07, EST (UTC-5)
    ["2026-03-07T13:59:59Z", "08:59 EST", false],
    ["2026-03-07T14:00:00Z", "09:00 EST", true],
    ["2026-03-07T13:30:00Z", "08:30 EST", false],
    ["2026-03-07T21:59:59Z", "16:59 EST", true],
    ["2026-03-07T22:00:00Z", "17:00 EST", false],
    // Sunday 2026-03-08, the change day: EDT (UTC-4) from 07:00Z
    ["2026-03-08T12:59:59Z", "08:59 EDT", false],
    ["2026-03-08T13:00:00Z", "09:00 EDT", true],
    ["2026-03-08T13:30:00Z", "09:30 EDT", true],
    ["2026-03-08T20:59:59Z", "16:59 EDT", true],
    ["2026-03-08T21:00:00Z", "17:00 EDT", false],
    ["2026-03-08T21:30:00Z", "17:30 EDT", false],
    // Monday 2026-03-09, EDT
    ["2026-03-09T12:59:59Z", "08:59 EDT", false],
    ["2026-03-09T13:00:00Z", "09:00 EDT", true],
    ["2026-03-09T20:59:59Z", "16:59 EDT", true],
    ["2026-03-09T21:00:00Z", "17:00 EDT", false],
  ];
  it.each(springForward)("New York spring-forward: at %s (%s) allowed=%s", async (iso, _, ok) => {
    const { allowedAt } = setup(NY);
    expect(await allowedAt(iso)).toBe(ok);
  });

  const fallBack: [string, string, boolean][] = [
    // Saturday 2026-10-31, EDT
    ["2026-10-31T12:59:59Z", "08:59 EDT", false],
    ["2026-10-31T13:00:00Z", "09:00 EDT", true],
    ["2026-10-31T20:59:59Z", "16:59 EDT", true],
    ["2026-10-31T21:00:00Z", "17:00 EDT", false],
    // Sunday 2026-11-01, the change day: EST from 06:00Z
    ["2026-11-01T13:00:00Z", "08:00 EST", false],
    ["2026-11-01T13:59:59Z", "08:59 EST", false],
    ["2026-11-01T14:00:00Z", "09:00 EST", true],
    ["2026-11-01T21:00:00Z", "16:00 EST", true],
    ["2026-11-01T21:59:59Z", "16:59 EST", true],
    ["2026-11-01T22:00:00Z", "17:00 EST", false],
    // Monday 2026-11-02, EST
    ["2026-11-02T13:59:59Z", "08:59 EST", false],
    ["2026-11-02T14:00:00Z", "09:00 EST", true],
    ["2026-11-02T22:00:00Z", "17:00 EST", false],
  ];
  it.each(fallBack)("New York fall-back: at %s (%s) allowed=%s", async (iso, _, ok) => {
    const { allowedAt } = setup(NY);
    expect(await allowedAt(iso)).toBe(ok);
  });

  const BERLIN = onePolicy(`
    allowed_hours: "09:00-17:00"
    timezone: Europe/Berlin
  `);
  const berlin: [string, string, boolean][] = [
    // Saturday 2026-03-28, CET (UTC+1)
    ["2026-03-28T07:59:59Z", "08:59 CET", false],
    ["2026-03-28T08:00:00Z", "09:00 CET", true],
    ["2026-03-28T07:30:00Z", "08:30 CET", false],
    ["2026-03-28T15:59:59Z", "16:59 CET", true],
    ["2026-03-28T16:00:00Z", "17:00 CET", false],
    // Sunday 2026-03-29, CEST (UTC+2) from 01:00Z
    ["2026-03-29T06:59:59Z", "08:59 CEST", false],
    ["2026-03-29T07:00:00Z", "09:00 CEST", true],
    ["2026-03-29T07:30:00Z", "09:30 CEST", true],
    ["2026-03-29T14:59:59Z", "16:59 CEST", true],
    ["2026-03-29T15:00:00Z", "17:00 CEST", false],
    ["2026-03-29T15:30:00Z", "17:30 CEST", false],
    // Monday 2026-03-30, CEST
    ["2026-03-30T07:00:00Z", "09:00 CEST", true],
    ["2026-03-30T15:00:00Z", "17:00 CEST", false],
    // Saturday 2026-10-24, CEST
    ["2026-10-24T06:59:59Z", "08:59 CEST", false],
    ["2026-10-24T07:00:00Z", "09:00 CEST", true],
    ["2026-10-24T15:00:00Z", "17:00 CEST", false],
    // Sunday 2026-10-25, CET from 01:00Z
    ["2026-10-25T07:00:00Z", "08:00 CET", false],
    ["2026-10-25T07:59:59Z", "08:59 CET", false],
    ["2026-10-25T08:00:00Z", "09:00 CET", true],
    ["2026-10-25T15:00:00Z", "16:00 CET", true],
    ["2026-10-25T16:00:00Z", "17:00 CET", false],
    // Monday 2026-10-26, CET
    ["2026-10-26T08:00:00Z", "09:00 CET", true],
    ["2026-10-26T16:00:00Z", "17:00 CET", false],
  ];
  it.each(berlin)("Berlin: at %s (%s) allowed=%s", async (iso, _, ok) => {
    const { allowedAt } = setup(BERLIN);
    expect(await allowedAt(iso)).toBe(ok);
  });

  it("decides one client correctly as its clock moves back and forth across a change", async () => {
    const { allowedAt } = setup(NY);
    // The same UTC time of day, 13:30Z, is 08:30 before the change and 09:30 after it.
    expect(await allowedAt("2026-03-07T13:30:00Z")).toBe(false);
    expect(await allowedAt("2026-03-08T13:30:00Z")).toBe(true);
    expect(await allowedAt("2026-03-07T13:30:00Z")).toBe(false);
    expect(await allowedAt("2026-11-01T13:30:00Z")).toBe(false);
    expect(await allowedAt("2026-10-31T13:30:00Z")).toBe(true);
  });

  it("never applies a window lying in the spring-forward gap, and applies one in the repeated hour on both passes", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        forbidden_hours: ["02:00-03:00", "01:00-02:00"]
        timezone: America/New_York
      `),
    );
    // 2026-03-08: 01:59 EST (06:59Z) is forbidden; the next minute is 03:00 EDT (07:00Z).
    expect(await allowedAt("2026-03-08T06:59:00Z")).toBe(false);
    expect(await allowedAt("2026-03-08T07:00:00Z")).toBe(true);
    // 2026-11-01: 01:00–02:00 happens twice, 05:00Z–07:00Z; both are forbidden.
    expect(await allowedAt("2026-11-01T04:59:59Z")).toBe(true);
    expect(await allowedAt("2026-11-01T05:30:00Z")).toBe(false);
    expect(await allowedAt("2026-11-01T06:30:00Z")).toBe(false);
    // 02:00 EST (07:00Z) is also forbidden (02:00–03:00), 03:00 EST (08:00Z) is not.
    expect(await allowedAt("2026-11-01T07:00:00Z")).toBe(false);
    expect(await allowedAt("2026-11-01T08:00:00Z")).toBe(true);
  });
});

describe("time windows: boundaries and midnight", () => {
  it("includes the start minute and excludes the end minute", async () => {
    const { allowedAt } = setup(onePolicy(`allowed_hours: "09:00-17:00"`));
    expect(await allowedAt("2026-05-04T08:59:59.999Z")).toBe(false);
    expect(await allowedAt("2026-05-04T09:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-04T16:59:59.999Z")).toBe(true);
    expect(await allowedAt("2026-05-04T17:00:00Z")).toBe(false);
  });

  it("treats forbidden_hours crossing midnight (22:00-06:00) as the night, on both sides", async () => {
    const { allowedAt } = setup(onePolicy(`forbidden_hours: "22:00-06:00"`));
    expect(await allowedAt("2026-05-04T21:59:59Z")).toBe(true);
    expect(await allowedAt("2026-05-04T22:00:00Z")).toBe(false);
    expect(await allowedAt("2026-05-04T23:59:59Z")).toBe(false);
    expect(await allowedAt("2026-05-05T00:00:00Z")).toBe(false);
    expect(await allowedAt("2026-05-05T05:59:59Z")).toBe(false);
    expect(await allowedAt("2026-05-05T06:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-05T12:00:00Z")).toBe(true);
  });

  it("applies a midnight-crossing window in the rule's zone", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        forbidden_hours: ["22:00-06:00"]
        timezone: Europe/Berlin
      `),
    );
    // Summer, UTC+2: 22:00–06:00 local is 20:00Z–04:00Z.
    expect(await allowedAt("2026-07-01T19:59:00Z")).toBe(true);
    expect(await allowedAt("2026-07-01T20:00:00Z")).toBe(false);
    expect(await allowedAt("2026-07-02T03:59:00Z")).toBe(false);
    expect(await allowedAt("2026-07-02T04:00:00Z")).toBe(true);
    // Winter, UTC+1: 21:00Z–05:00Z.
    expect(await allowedAt("2026-01-15T20:59:00Z")).toBe(true);
    expect(await allowedAt("2026-01-15T21:00:00Z")).toBe(false);
    expect(await allowedAt("2026-01-16T04:59:00Z")).toBe(false);
    expect(await allowedAt("2026-01-16T05:00:00Z")).toBe(true);
  });

  it("lets allowed_hours cross midnight too (a night shift)", async () => {
    const { allowedAt } = setup(onePolicy(`allowed_hours: "22:00-06:00"`));
    expect(await allowedAt("2026-05-04T21:59:00Z")).toBe(false);
    expect(await allowedAt("2026-05-04T22:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-05T02:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-05T06:00:00Z")).toBe(false);
  });

  it('allows the whole day with "00:00-24:00", up to the last millisecond', async () => {
    const { allowedAt } = setup(onePolicy(`allowed_hours: "00:00-24:00"`));
    expect(await allowedAt("2026-05-04T00:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-04T12:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-04T23:59:59.999Z")).toBe(true);
  });

  it('forbids the whole day with forbidden_hours "00:00-24:00"', async () => {
    const { allowedAt } = setup(onePolicy(`forbidden_hours: "00:00-24:00"`));
    expect(await allowedAt("2026-05-04T00:00:00Z")).toBe(false);
    expect(await allowedAt("2026-05-04T23:59:59.999Z")).toBe(false);
  });

  it('runs a window ending at 24:00 up to midnight and not past it ("22:00-24:00")', async () => {
    const { allowedAt } = setup(onePolicy(`forbidden_hours: "22:00-24:00"`));
    expect(await allowedAt("2026-05-04T21:59:59Z")).toBe(true);
    expect(await allowedAt("2026-05-04T23:59:59Z")).toBe(false);
    expect(await allowedAt("2026-05-05T00:00:00Z")).toBe(true);
  });

  it("allows inside any window of an allowed_hours list and names them all when outside", async () => {
    const { allowedAt, at } = setup(onePolicy(`allowed_hours: ["08:00-12:00", "13:00-17:00"]`));
    expect(await allowedAt("2026-05-04T08:00:00Z")).toBe(true);
    expect(await allowedAt("2026-05-04T13:00:00Z")).toBe(true);
    const lunch = await at("2026-05-04T12:30:00Z");
    expect(lunch.allowed).toBe(false);
    expect(lunch.reason).toBe(
      "Policy 'p' blocked the call: outside allowed hours 08:00-12:00, 13:00-17:00 (UTC) (rule rules[0])",
    );
  });

  it("rejects a window that is not HH:MM-HH:MM on the 24-hour clock", () => {
    for (const bad of ["9-17", "09:00-24:30", "24:00-06:00", "09:60-10:00", "9:00 to 17:00"]) {
      expect(() => parsePolicies(onePolicy(`allowed_hours: "${bad}"`)), bad).toThrow(
        PolicyFileError,
      );
    }
  });
});

describe("allowed_days and forbidden_days", () => {
  // 2026-03-02 is a Monday; noon UTC each day of that week.
  const week: [string, string][] = [
    ["monday", "2026-03-02T12:00:00Z"],
    ["tuesday", "2026-03-03T12:00:00Z"],
    ["wednesday", "2026-03-04T12:00:00Z"],
    ["thursday", "2026-03-05T12:00:00Z"],
    ["friday", "2026-03-06T12:00:00Z"],
    ["saturday", "2026-03-07T12:00:00Z"],
    ["sunday", "2026-03-08T12:00:00Z"],
  ];
  const allowedDays = async (yaml: string) => {
    const { allowedAt } = setup(yaml);
    const result: string[] = [];
    for (const [day, iso] of week) if (await allowedAt(iso)) result.push(day);
    return result;
  };

  it("accepts full names, three-letter abbreviations and any case", async () => {
    expect(await allowedDays(onePolicy(`allowed_days: [Monday, WED, fri, SaTuRdAy]`))).toEqual([
      "monday",
      "wednesday",
      "friday",
      "saturday",
    ]);
    expect(await allowedDays(onePolicy(`allowed_days: [sun, TUE, thu]`))).toEqual([
      "tuesday",
      "thursday",
      "sunday",
    ]);
    expect(await allowedDays(onePolicy(`allowed_days: sunday`))).toEqual(["sunday"]);
  });

  it('understands "weekdays" and "weekends" (any case)', async () => {
    expect(await allowedDays(onePolicy(`allowed_days: weekdays`))).toEqual([
      "monday",
      "tuesday",
      "wednesday",
      "thursday",
      "friday",
    ]);
    expect(await allowedDays(onePolicy(`allowed_days: WEEKENDS`))).toEqual(["saturday", "sunday"]);
    expect(await allowedDays(onePolicy(`forbidden_days: Weekends`))).toEqual([
      "monday",
      "tuesday",
      "wednesday",
      "thursday",
      "friday",
    ]);
  });

  it("blocks on forbidden days only, with names and abbreviations mixed", async () => {
    expect(await allowedDays(onePolicy(`forbidden_days: [friday, SAT]`))).toEqual([
      "monday",
      "tuesday",
      "wednesday",
      "thursday",
      "sunday",
    ]);
    expect(await allowedDays(onePolicy(`forbidden_days: [weekdays, sun]`))).toEqual(["saturday"]);
  });

  it("names the day and the zone in the reason", async () => {
    const { at } = setup(onePolicy(`allowed_days: weekdays`));
    expect((await at("2026-03-07T12:00:00Z")).reason).toBe(
      "Policy 'p' blocked the call: saturday is not an allowed day (UTC) (rule rules[0])",
    );
    const forbidden = setup(onePolicy(`forbidden_days: fri`));
    expect((await forbidden.at("2026-03-06T12:00:00Z")).reason).toBe(
      "Policy 'p' blocked the call: friday is a forbidden day (UTC) (rule rules[0])",
    );
  });

  it("uses the local day of the rule's zone, not the UTC day", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        allowed_days: weekdays
        timezone: America/New_York
      `),
    );
    // Saturday 03:00Z is still Friday 22:00 in New York.
    expect(await allowedAt("2026-03-07T03:00:00Z")).toBe(true);
    // Monday 03:00Z is still Sunday 22:00 in New York.
    expect(await allowedAt("2026-03-02T03:00:00Z")).toBe(false);
    // Monday 05:00Z is Monday 00:00 in New York.
    expect(await allowedAt("2026-03-02T05:00:00Z")).toBe(true);

    const tokyo = setup(
      onePolicy(`
        forbidden_days: sunday
        timezone: Asia/Tokyo
      `),
    );
    // Saturday 15:00Z is Sunday 00:00 in Tokyo.
    expect(await tokyo.allowedAt("2026-03-07T14:59:59Z")).toBe(true);
    expect(await tokyo.allowedAt("2026-03-07T15:00:00Z")).toBe(false);
  });

  it("combines days and hours: both must allow", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        allowed_days: weekdays
        allowed_hours: "09:00-17:00"
      `),
    );
    expect(await allowedAt("2026-03-06T10:00:00Z")).toBe(true); // Friday 10:00
    expect(await allowedAt("2026-03-06T18:00:00Z")).toBe(false); // Friday 18:00
    expect(await allowedAt("2026-03-07T10:00:00Z")).toBe(false); // Saturday 10:00
  });

  it("rejects a day name it does not know", () => {
    expect(() => parsePolicies(onePolicy(`allowed_days: [mondays]`))).toThrow(PolicyFileError);
    expect(() => parsePolicies(onePolicy(`forbidden_days: [tues]`))).toThrow(PolicyFileError);
  });
});

describe("denied_windows", () => {
  it('takes a plain "HH:MM-HH:MM" string as a daily window', async () => {
    const { allowedAt, at } = setup(onePolicy(`denied_windows: ["12:00-13:00"]`));
    expect(await allowedAt("2026-05-04T11:59:59Z")).toBe(true);
    expect(await allowedAt("2026-05-04T12:00:00Z")).toBe(false);
    expect(await allowedAt("2026-05-09T12:59:59Z")).toBe(false); // another day, a Saturday
    expect(await allowedAt("2026-05-04T13:00:00Z")).toBe(true);
    expect((await at("2026-05-04T12:30:00Z")).reason).toBe(
      "Policy 'p' blocked the call: inside denied window 12:00-13:00 (UTC) (rule rules[0])",
    );
  });

  it("takes {days, hours}: only those hours on those days", async () => {
    const { allowedAt, at } = setup(
      onePolicy(`
        denied_windows:
          - { days: [Fri, saturday], hours: "18:00-23:00" }
      `),
    );
    expect(await allowedAt("2026-03-06T18:00:00Z")).toBe(false); // Friday 18:00
    expect(await allowedAt("2026-03-07T22:59:00Z")).toBe(false); // Saturday 22:59
    expect(await allowedAt("2026-03-07T23:00:00Z")).toBe(true); // Saturday 23:00
    expect(await allowedAt("2026-03-06T17:59:00Z")).toBe(true); // Friday 17:59
    expect(await allowedAt("2026-03-05T19:00:00Z")).toBe(true); // Thursday 19:00
    expect((await at("2026-03-06T19:00:00Z")).reason).toBe(
      "Policy 'p' blocked the call: inside denied window on friday, saturday 18:00-23:00 (UTC) (rule rules[0])",
    );
  });

  it("takes {days} alone as whole days and {hours} alone as every day", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        denied_windows:
          - { days: weekends }
          - { hours: "02:00-04:00" }
      `),
    );
    expect(await allowedAt("2026-03-07T00:00:00Z")).toBe(false); // Saturday
    expect(await allowedAt("2026-03-08T23:59:59Z")).toBe(false); // Sunday
    expect(await allowedAt("2026-03-09T00:00:00Z")).toBe(true); // Monday
    expect(await allowedAt("2026-03-10T03:00:00Z")).toBe(false); // Tuesday 03:00
    expect(await allowedAt("2026-03-10T04:00:00Z")).toBe(true); // Tuesday 04:00
  });

  it("uses the rule's zone for the days and hours of recurring windows", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        denied_windows: [{ days: [monday], hours: "09:00-10:00" }]
        timezone: America/New_York
      `),
    );
    expect(await allowedAt("2026-03-02T14:00:00Z")).toBe(false); // Monday 09:00 EST
    expect(await allowedAt("2026-03-02T09:00:00Z")).toBe(true); // Monday 04:00 EST
    expect(await allowedAt("2026-03-09T13:00:00Z")).toBe(false); // Monday 09:00 EDT
    expect(await allowedAt("2026-03-09T14:00:00Z")).toBe(true); // Monday 10:00 EDT
  });

  it("takes {start, end} with an offset as absolute instants, end exclusive", async () => {
    const { allowedAt, at } = setup(
      onePolicy(`
        denied_windows: [{ start: "2026-12-24T18:00:00+01:00", end: "2026-12-26T00:00Z" }]
        timezone: America/New_York
      `),
    );
    expect(await allowedAt("2026-12-24T16:59:59Z")).toBe(true);
    expect(await allowedAt("2026-12-24T17:00:00Z")).toBe(false);
    expect(await allowedAt("2026-12-25T23:59:59Z")).toBe(false);
    expect(await allowedAt("2026-12-26T00:00:00Z")).toBe(true);
    expect((await at("2026-12-25T12:00:00Z")).reason).toBe(
      "Policy 'p' blocked the call: inside denied window 2026-12-24T17:00:00.000Z to 2026-12-26T00:00:00.000Z (rule rules[0])",
    );
  });

  it("accepts offsets written with or without a colon, ahead of or behind UTC", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        denied_windows:
          - { start: "2026-06-01T10:00-0530", end: "2026-06-01T11:00:00-05:30" }
      `),
    );
    expect(await allowedAt("2026-06-01T15:29:59Z")).toBe(true);
    expect(await allowedAt("2026-06-01T15:30:00Z")).toBe(false);
    expect(await allowedAt("2026-06-01T16:29:59Z")).toBe(false);
    expect(await allowedAt("2026-06-01T16:30:00Z")).toBe(true);
  });

  it("reads {start, end} without an offset as wall-clock time in the rule's zone, across DST", async () => {
    // 01:00 EST to 04:00 EDT on the spring-forward night: 06:00Z to 08:00Z (two real hours).
    const { allowedAt } = setup(
      onePolicy(`
        denied_windows:
          - { start: "2026-03-08T01:00", end: "2026-03-08T04:00:00" }
        timezone: America/New_York
      `),
    );
    expect(await allowedAt("2026-03-08T05:59:59Z")).toBe(true);
    expect(await allowedAt("2026-03-08T06:00:00Z")).toBe(false);
    expect(await allowedAt("2026-03-08T07:59:59Z")).toBe(false);
    expect(await allowedAt("2026-03-08T08:00:00Z")).toBe(true);
  });

  it("reads a date-only {start, end} as local midnights in the policy's zone", async () => {
    const { allowedAt } = setup(
      onePolicy(
        `
        denied_windows:
          - { start: "2026-12-24", end: "2026-12-27" }
      `,
        "\n    timezone: Europe/Berlin",
      ),
    );
    expect(await allowedAt("2026-12-23T22:59:59Z")).toBe(true);
    expect(await allowedAt("2026-12-23T23:00:00Z")).toBe(false);
    expect(await allowedAt("2026-12-26T22:59:59Z")).toBe(false);
    expect(await allowedAt("2026-12-26T23:00:00Z")).toBe(true);
  });

  it("reads {start, end} without an offset in the file's zone when rule and policy set none", async () => {
    const { allowedAt } = setup(`
timezone: Asia/Tokyo
policies:
  - id: p
    rules:
      - denied_windows: [{ start: "2026-05-01T09:00", end: "2026-05-01T10:00" }]
`);
    // 09:00–10:00 in Tokyo (UTC+9) is 00:00Z–01:00Z.
    expect(await allowedAt("2026-04-30T23:59:59Z")).toBe(true);
    expect(await allowedAt("2026-05-01T00:00:00Z")).toBe(false);
    expect(await allowedAt("2026-05-01T01:00:00Z")).toBe(true);
  });

  it("blocks inside any of several windows of different forms", async () => {
    const { allowedAt } = setup(
      onePolicy(`
        denied_windows:
          - "03:00-04:00"
          - { days: sun }
          - { start: "2026-05-06T12:00Z", end: "2026-05-06T13:00Z" }
      `),
    );
    expect(await allowedAt("2026-05-05T03:30:00Z")).toBe(false); // daily
    expect(await allowedAt("2026-05-10T12:00:00Z")).toBe(false); // Sunday
    expect(await allowedAt("2026-05-06T12:30:00Z")).toBe(false); // the range
    expect(await allowedAt("2026-05-07T12:30:00Z")).toBe(true); // none of them
  });

  it("accepts the date-time format Date.prototype.toISOString writes (with milliseconds)", async () => {
    const start = new Date("2026-05-01T10:00:00Z").toISOString(); // "2026-05-01T10:00:00.000Z"
    const end = new Date("2026-05-01T11:00:00Z").toISOString();
    const { allowedAt } = setup(
      onePolicy(`denied_windows: [{ start: "${start}", end: "${end}" }]`),
    );
    expect(await allowedAt("2026-05-01T09:59:59Z")).toBe(true);
    expect(await allowedAt("2026-05-01T10:30:00Z")).toBe(false);
    expect(await allowedAt("2026-05-01T11:00:00Z")).toBe(true);
  });

  it("rejects a date or time that does not exist on the calendar instead of rolling it over", () => {
    for (const [start, end] of [
      ["2026-02-30T10:00Z", "2026-03-05T10:00Z"],
      ["2026-13-01", "2027-02-01"],
      ["2026-05-01T25:00Z", "2026-05-03T00:00Z"],
    ]) {
      expect(
        () => parsePolicies(onePolicy(`denied_windows: [{ start: "${start}", end: "${end}" }]`)),
        start,
      ).toThrow(/expected an ISO date-time/);
    }
  });

  it("rejects a range whose end is not after its start, or that is not a date", () => {
    expect(() =>
      parsePolicies(
        onePolicy(`denied_windows: [{ start: "2026-05-01T10:00Z", end: "2026-05-01T10:00Z" }]`),
      ),
    ).toThrow(/end must be after start/);
    expect(() =>
      parsePolicies(onePolicy(`denied_windows: [{ start: "tomorrow", end: "2026-05-01" }]`)),
    ).toThrow(/expected an ISO date-time/);
    expect(() => parsePolicies(onePolicy(`denied_windows: [{}]`))).toThrow(PolicyFileError);
  });
});

describe("which time zone a schedule uses", () => {
  const YAML = `
timezone: Asia/Tokyo
policies:
  - id: file_zone
    rules:
      - allowed_hours: "09:00-17:00"
  - id: policy_zone
    timezone: Europe/Berlin
    rules:
      - allowed_hours: "09:00-17:00"
  - id: rule_zone
    timezone: Europe/Berlin
    rules:
      - allowed_hours: "09:00-17:00"
        timezone: America/New_York
`;
  const allowedBy = async (iso: string) => {
    const { at } = setup(YAML);
    const result: string[] = [];
    for (const id of ["file_zone", "policy_zone", "rule_zone"]) {
      if ((await at(iso, id)).allowed) result.push(id);
    }
    return result;
  };

  it("uses the rule's timezone over the policy's over the file's", async () => {
    // 01:00Z: Tokyo 10:00, Berlin 03:00, New York 21:00 (previous day).
    expect(await allowedBy("2026-07-01T01:00:00Z")).toEqual(["file_zone"]);
    // 09:00Z: Tokyo 18:00, Berlin 11:00, New York 05:00.
    expect(await allowedBy("2026-07-01T09:00:00Z")).toEqual(["policy_zone"]);
    // 16:00Z: Tokyo 01:00, Berlin 18:00, New York 12:00.
    expect(await allowedBy("2026-07-01T16:00:00Z")).toEqual(["rule_zone"]);
  });

  it("records the effective zone on the loaded policy and rule", () => {
    const { client } = setup(YAML);
    expect(client.getPolicy("file_zone")?.timezone).toBe("Asia/Tokyo");
    expect(client.getPolicy("file_zone")?.rules[0]?.timezone).toBe("Asia/Tokyo");
    expect(client.getPolicy("policy_zone")?.rules[0]?.timezone).toBe("Europe/Berlin");
    expect(client.getPolicy("rule_zone")?.timezone).toBe("Europe/Berlin");
    expect(client.getPolicy("rule_zone")?.rules[0]?.timezone).toBe("America/New_York");
  });

  it("names the zone it used in the reason", async () => {
    const { at } = setup(YAML);
    expect((await at("2026-07-01T09:00:00Z", "file_zone")).reason).toContain("(Asia/Tokyo)");
    expect((await at("2026-07-01T01:00:00Z", "policy_zone")).reason).toContain("(Europe/Berlin)");
    expect((await at("2026-07-01T01:00:00Z", "rule_zone")).reason).toContain("(America/New_York)");
  });

  it("defaults to UTC when no level sets a zone", async () => {
    const { allowedAt, at } = setup(onePolicy(`allowed_hours: "09:00-17:00"`));
    expect(await allowedAt("2026-07-01T08:59:00Z")).toBe(false);
    expect(await allowedAt("2026-07-01T09:00:00Z")).toBe(true);
    expect((await at("2026-07-01T17:00:00Z")).reason).toContain("(UTC)");
  });

  it("rejects an unknown zone at any level", () => {
    const bad = "Mars/Olympus_Mons";
    expect(() => parsePolicies(`timezone: ${bad}\npolicies: []`)).toThrow(/unknown time zone/);
    expect(() =>
      parsePolicies(onePolicy(`allowed_hours: "09:00-17:00"`, `\n    timezone: ${bad}`)),
    ).toThrow(/unknown time zone/);
    expect(() =>
      parsePolicies(onePolicy(`allowed_hours: "09:00-17:00"\ntimezone: ${bad}`)),
    ).toThrow(/unknown time zone 'Mars\/Olympus_Mons'/);
  });
});

describe("the reason of a schedule decision", () => {
  it("names the policy, the rule and the window", async () => {
    const { at } = setup(`
policies:
  - id: deploys
    rules:
      - id: office_hours
        allowed_hours: "09:00-17:00"
        timezone: America/New_York
      - name: no_night_deploys
        forbidden_hours: "22:00-06:00"
        timezone: America/New_York
        priority: 1
`);
    const outside = await at("2026-03-09T21:00:00Z", "deploys"); // 17:00 EDT
    expect(outside).toMatchObject({
      allowed: false,
      action: "block",
      ruleId: "deploys/office_hours",
    });
    expect(outside.reason).toBe(
      "Policy 'deploys' blocked the call: outside allowed hours 09:00-17:00 (America/New_York) (rule office_hours)",
    );
    expect(outside.matchedRules).toEqual(["deploys/office_hours", "deploys/no_night_deploys"]);

    // 23:00 EDT: both rules fire; the higher priority names its window.
    const night = await at("2026-03-10T03:00:00Z", "deploys");
    expect(night.ruleId).toBe("deploys/no_night_deploys");
    expect(night.reason).toBe(
      "Policy 'deploys' blocked the call: inside forbidden hours 22:00-06:00 (America/New_York) (rule no_night_deploys)",
    );

    const allowed = await at("2026-03-09T14:00:00Z", "deploys");
    expect(allowed.allowed).toBe(true);
    expect(allowed.reason).toBe("Policy 'deploys' allowed the call");
  });

  it("names the forbidden window that fired", async () => {
    const { at } = setup(
      onePolicy(`
        name: quiet
        forbidden_hours: ["12:00-13:00", "22:00-06:00"]
        timezone: Europe/Berlin
      `),
    );
    const d = await at("2026-07-01T23:00:00Z"); // 01:00 CEST
    expect(d.reason).toBe(
      "Policy 'p' blocked the call: inside forbidden hours 22:00-06:00 (Europe/Berlin) (rule quiet)",
    );
    expect(d.ruleId).toBe("p/quiet");
  });

  it("uses the rule's message instead of the generated text, still naming policy and rule", async () => {
    const { at } = setup(
      onePolicy(`
        id: office_hours
        allowed_hours: "09:00-17:00"
        message: deploys only during office hours
      `),
    );
    expect((await at("2026-05-04T20:00:00Z")).reason).toBe(
      "Policy 'p' blocked the call: deploys only during office hours (rule office_hours)",
    );
  });

  it("applies the rule's action: warn lets the call through with the reason", async () => {
    const { at } = setup(
      onePolicy(`
        id: office_hours
        allowed_hours: "09:00-17:00"
        action: warn
      `),
    );
    const d = await at("2026-05-04T20:00:00Z");
    expect(d).toMatchObject({ allowed: true, action: "warn", decision: "warned" });
    expect(d.reason).toBe(
      "Policy 'p' warning: outside allowed hours 09:00-17:00 (UTC) (rule office_hours)",
    );
  });

  it("applies the rule's action: require_confirmation passes once confirmed", async () => {
    const { at } = setup(
      onePolicy(`
        forbidden_days: weekends
        action: require_confirmation
      `),
    );
    expect((await at("2026-03-07T12:00:00Z")).action).toBe("require_confirmation");
    expect((await at("2026-03-07T12:00:00Z", "p", { confirm: true })).action).toBe("allow");
  });

  it("names the rule alone even when the policy id contains a slash", async () => {
    const { at } = setup(`
policies:
  - id: team/deploys
    rules:
      - id: office_hours
        allowed_hours: "09:00-17:00"
`);
    const d = await at("2026-05-04T20:00:00Z", "team/deploys");
    expect(d.ruleId).toBe("team/deploys/office_hours");
    expect(d.reason).toBe(
      "Policy 'team/deploys' blocked the call: outside allowed hours 09:00-17:00 (UTC) (rule office_hours)",
    );
  });
});

describe("calendar budgets reset in the rule's time zone", () => {
  const daily = (zone: string) =>
    onePolicy(`
      daily_budget: 1
      timezone: ${zone}
    `);
  const spend = async (s: ReturnType<typeof setup>, iso: string, cost = 1): Promise<Decision> =>
    s.at(iso, "p", { cost });

  it("resets a New York daily budget at 05:00Z in winter, not at UTC midnight", async () => {
    const s = setup(daily("America/New_York"));
    expect((await spend(s, "2026-01-14T20:00:00Z")).allowed).toBe(true); // Jan 14, 15:00 EST
    const refused = await spend(s, "2026-01-15T00:30:00Z"); // still Jan 14 in New York
    expect(refused.allowed).toBe(false);
    expect(refused.reason).toContain("daily budget of $1.00 would be exceeded");
    expect((await spend(s, "2026-01-15T04:59:59.999Z")).allowed).toBe(false);
    expect((await spend(s, "2026-01-15T05:00:00Z")).allowed).toBe(true); // Jan 15, 00:00 EST
    expect((await spend(s, "2026-01-15T06:00:00Z")).allowed).toBe(false);
  });

  it("resets a New York daily budget at 04:00Z in summer", async () => {
    const s = setup(daily("America/New_York"));
    expect((await spend(s, "2026-07-14T20:00:00Z")).allowed).toBe(true);
    expect((await spend(s, "2026-07-15T03:59:59.999Z")).allowed).toBe(false);
    expect((await spend(s, "2026-07-15T04:00:00Z")).allowed).toBe(true); // Jul 15, 00:00 EDT
  });

  it("keeps the 23-hour spring-forward day and the 25-hour fall-back day as one budget day each", async () => {
    const spring = setup(daily("America/New_York"));
    expect((await spend(spring, "2026-03-08T04:59:59Z")).allowed).toBe(true); // Mar 7 23:59 EST
    expect((await spend(spring, "2026-03-08T05:00:00Z")).allowed).toBe(true); // Mar 8 00:00 EST
    expect((await spend(spring, "2026-03-09T03:59:59Z")).allowed).toBe(false); // Mar 8 23:59 EDT
    expect((await spend(spring, "2026-03-09T04:00:00Z")).allowed).toBe(true); // Mar 9 00:00 EDT

    const fall = setup(daily("America/New_York"));
    expect((await spend(fall, "2026-11-01T04:00:00Z")).allowed).toBe(true); // Nov 1 00:00 EDT
    expect((await spend(fall, "2026-11-02T04:30:00Z")).allowed).toBe(false); // Nov 1 23:30 EST
    expect((await spend(fall, "2026-11-02T05:00:00Z")).allowed).toBe(true); // Nov 2 00:00 EST
  });

  it("reserves a daily budget until the end of the local day", async () => {
    const s = setup(daily("America/New_York"));
    const d = await spend(s, "2026-03-08T12:00:00Z", 0.25);
    expect(d.reservation).toEqual([
      expect.objectContaining({
        unit: "usd",
        amount: 250_000,
        expiresAtMs: Date.parse("2026-03-09T04:00:00Z"),
      }),
    ]);
    const fall = await spend(s, "2026-11-01T12:00:00Z", 0.25);
    expect(fall.reservation?.[0]?.expiresAtMs).toBe(Date.parse("2026-11-02T05:00:00Z"));
  });

  it("resets a Berlin monthly budget at local midnight on the 1st", async () => {
    const s = setup(
      onePolicy(`
        monthly_budget: 10
        timezone: Europe/Berlin
      `),
    );
    // 22:59Z on 28 February is still February in Berlin (23:59 CET).
    expect((await spend(s, "2026-02-28T22:59:59Z", 10)).allowed).toBe(true);
    // 23:00Z is 1 March 00:00 CET: a new month.
    expect((await spend(s, "2026-02-28T23:00:00Z", 10)).allowed).toBe(true);
    const d = await spend(s, "2026-03-31T21:59:59.999Z", 0.01); // 31 March 23:59 CEST
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("monthly budget of $10.00 would be exceeded");
    // 22:00Z on 31 March is 1 April 00:00 CEST.
    const april = await spend(s, "2026-03-31T22:00:00Z", 10);
    expect(april.allowed).toBe(true);
    expect(april.reservation?.[0]?.expiresAtMs).toBe(Date.parse("2026-04-30T22:00:00Z"));
  });

  it("resets a UTC monthly budget at 00:00Z when no zone is set", async () => {
    const s = setup(onePolicy(`monthly_budget: 10`));
    expect((await spend(s, "2026-03-31T23:59:59Z", 10)).allowed).toBe(true);
    expect((await spend(s, "2026-03-31T23:59:59.999Z", 1)).allowed).toBe(false);
    expect((await spend(s, "2026-04-01T00:00:00Z", 10)).allowed).toBe(true);
  });

  it("uses the policy-level zone for a daily budget when the rule sets none", async () => {
    const s = setup(
      onePolicy(
        `
        daily_budget: 1
      `,
        "\n    timezone: Asia/Tokyo",
      ),
    );
    // Tokyo is UTC+9: a day starts at 15:00Z.
    expect((await spend(s, "2026-05-01T14:59:59Z")).allowed).toBe(true);
    expect((await spend(s, "2026-05-01T15:00:00Z")).allowed).toBe(true);
    expect((await spend(s, "2026-05-02T14:59:59Z")).allowed).toBe(false);
    expect((await spend(s, "2026-05-02T15:00:00Z")).allowed).toBe(true);
  });
});
