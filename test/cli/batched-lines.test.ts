import { describe, expect, it } from "vitest";
// Internal: hexarch-ctl's batched output writer.
import { batchedLines } from "../../src/cli/batched-lines.ts";

const tick = () => new Promise((done) => setImmediate(done));

describe("batchedLines", () => {
  it("writes the lines of one turn of the event loop in one write, in order", async () => {
    const writes: string[] = [];
    const lines = batchedLines({ write: (s) => writes.push(s) });
    lines.write("a\n");
    lines.write("b\n");
    expect(writes).toEqual([]);
    await tick();
    expect(writes).toEqual(["a\nb\n"]);
    lines.write("c\n");
    await tick();
    expect(writes).toEqual(["a\nb\n", "c\n"]);
    lines.close();
  });

  it("writes a large batch at once, and what is held on flush and close", async () => {
    const writes: string[] = [];
    const lines = batchedLines({ write: (s) => writes.push(s) });
    const big = `${"x".repeat(70_000)}\n`;
    lines.write(big);
    expect(writes).toEqual([big]);
    lines.write("held\n");
    lines.flush();
    expect(writes.at(-1)).toBe("held\n");
    lines.write("last\n");
    const exitListeners = process.listenerCount("exit");
    lines.close();
    expect(writes.at(-1)).toBe("last\n");
    expect(process.listenerCount("exit")).toBe(exitListeners - 1);
    await tick();
    expect(writes).toHaveLength(3);
  });
});
