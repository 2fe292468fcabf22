/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by
 * creation time. Within one millisecond a counter in `rand_a` keeps them increasing.
 *
 * @module
 */

import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const pool = new Uint8Array(256 * 10);
let poolOffset = pool.length;
let lastMs = -1;
let sequence = 0;

/** A new UUIDv7 for the instant `ms` (default: now). */
export function uuidv7(ms: number = Date.now()): string {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const r = pool.subarray(poolOffset, poolOffset + 10);
  poolOffset += 10;
  const t = Math.max(0, Math.floor(ms));
  if (t === lastMs) {
    sequence = (sequence + 1) & 0xfff;
  } else {
    lastMs = t;
    sequence = (((r[0] as number) << 4) | ((r[1] as number) >> 4)) & 0x7ff; // leave headroom to count up
  }
  const hi = Math.floor(t / 0x1000000); // top 24 bits of the 48-bit timestamp
  const lo = t % 0x1000000;
  const h = (n: number) => HEX[n & 0xff] as string;
  return (
    h(hi >> 16) +
    h(hi >> 8) +
    h(hi) +
    h(lo >> 16) +
    "-" +
    h(lo >> 8) +
    h(lo) +
    "-" +
    h(0x70 | (sequence >> 8)) +
    h(sequence) +
    "-" +
    h(0x80 | ((r[2] as number) & 0x3f)) +
    h(r[3] as number) +
    "-" +
    h(r[4] as number) +
    h(r[5] as number) +
    h(r[6] as number) +
    h(r[7] as number) +
    h(r[8] as number) +
    h(r[9] as number)
  );
}
