/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by
 * creation time. Within one millisecond a counter in `rand_a` keeps them increasing.
 *
 * @module
 */

import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** `rand_a` with the version nibble, between dashes: `"-7xxx-"` for each 12-bit value. */
const VERSIONED = Array.from({ length: 4096 }, (_, i) => `-7${i.toString(16).padStart(3, "0")}-`);
// Random bytes, drawn 2,560 at a time: one randomFillSync costs more than a thousand ids.
const pool = new Uint8Array(2560);
let poolOffset = pool.length;
let lastMs = -1;
let sequence = 0;
/** The first two groups (`tttttttt-tttt`): the millisecond's. */
let prefix = "";
/** The variant and `rand_b` (`vrrr-rrrrrrrrrrrr`). */
let suffix = "";
/** Where `sequence` started this millisecond: it is about to repeat there. */
let firstSequence = 0;

/** Draws `rand_b` afresh; answers 11 more random bits (a sequence start). */
function draw(): number {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const p = pool;
  const i = poolOffset;
  poolOffset += 10;
  const h = (k: number) => HEX[p[i + k] as number] as string;
  suffix = `${HEX[0x80 | ((p[i] as number) & 0x3f)] as string}${h(1)}-${h(2)}${h(3)}${h(4)}${h(5)}${h(6)}${h(7)}`;
  return (((p[i + 8] as number) << 4) | ((p[i + 9] as number) >> 4)) & 0x7ff;
}

/**
 * A new UUIDv7 for the instant `ms` (default: now).
 *
 * Every decision gets one, so it is cheap: the random `rand_b` is drawn once per
 * millisecond (RFC 9562 §6.2, method 1: a 12-bit counter in `rand_a` orders and tells apart
 * the ids of one millisecond), and again whenever the counter comes round to where it
 * started, so no id repeats.
 */
export function uuidv7(ms: number = Date.now()): string {
  const t = Math.max(0, Math.floor(ms));
  if (t === lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === firstSequence) draw();
  } else {
    lastMs = t;
    sequence = draw(); // a random start, with headroom to count up
    firstSequence = sequence;
    const hi = Math.floor(t / 0x1000000); // top 24 bits of the 48-bit timestamp
    const lo = t % 0x1000000;
    const h = (n: number) => HEX[n & 0xff] as string;
    prefix = `${h(hi >> 16)}${h(hi >> 8)}${h(hi)}${h(lo >> 16)}-${h(lo >> 8)}${h(lo)}`;
  }
  return `${prefix}${VERSIONED[sequence] as string}${suffix}`;
}
