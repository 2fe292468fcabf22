import { afterEach, describe, expect, it, vi } from "vitest";
import { runDemo } from "../src/demo/main.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("npm run demo", () => {
  it("tells the whole story: refusal, confirmation, budget warning and stop, throttling, business hours", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    await runDemo();
    const out = lines.join("\n");
    expect(out).toContain("refused  Policy 'safe_delete' requires confirmation");
    expect(out).toContain("the function body never ran: 0 rows deleted");
    expect(out).toContain("allowed  with confirm: true");
    expect(out).toMatch(/warning {2}prompt #11: .*82% of the monthly budget used/);
    expect(out).toMatch(/stopped {2}prompt #14: .*monthly budget of \$10\.00 would be exceeded/);
    expect(out).toContain("13 prompts answered, $9.75 spent of $10");
    expect(out).toContain("8 events to hooks.example.com in one second: 5 sent, 3 throttled");
    expect(out).toContain("a second later, hooks.example.com: 5 sent, 3 throttled");
    expect(out).toMatch(/Wed 10:00 AM in New York: deployed/);
    expect(out).toMatch(/Sat 10:00 AM in New York: refused/);
    // No color escapes when stdout is not a terminal.
    expect(out).not.toContain("\x1b[");
  });
});
