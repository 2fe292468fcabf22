/**
 * Decision ids: UUIDv7 (RFC 9562), unique and sorted by creation time. Internal: `uuidv7`
 * has no public name; decisions carry its ids as `decisionId`.
 */
import { describe, expect, it } from "vitest";
// Internal: decision ids, made for fixed instants.
import { uuidv7 } from "../../src/kernel/uuid.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("gives well-formed, unique, increasing ids within one millisecond, past the counter's wrap", () => {
    const ms = Date.UTC(2026, 11, 7, 12);
    const ids = Array.from({ length: 10_000 }, () => uuidv7(ms));
    for (const id of ids) expect(id).toMatch(V7);
    expect(new Set(ids).size).toBe(ids.length);
    // The 48-bit timestamp is the millisecond's.
    expect(Number.parseInt(ids[0]?.replaceAll("-", "").slice(0, 12) ?? "", 16)).toBe(ms);
  });

  it("sorts ids of later milliseconds after earlier ones, across the 24-bit boundary of the timestamp", () => {
    const base = 0x1000000 * 29_000; // hi bits change here
    const instants = [base - 2, base - 1, base, base + 1, base + 0x1000000];
    const ids = instants.map((ms) => uuidv7(ms));
    for (const id of ids) expect(id).toMatch(V7);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.map((id) => Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16))).toEqual(
      instants,
    );
  });

  it("draws rand_b afresh each millisecond: one id does not give away the next millisecond's", () => {
    const ms = Date.UTC(2026, 11, 7, 13);
    const tails = Array.from({ length: 50 }, (_, i) => uuidv7(ms + i).slice(19));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
