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

/** The next random bytes of the pool, refilled when it runs out. */
function take(n: number): number {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const i = poolOffset;
  poolOffset += n;
  return i;
}

/** Draws `rand_b` afresh. */
function drawSuffix(): void {
  const i = take(8);
  const p = pool;
  const h = (k: number) => HEX[p[i + k] as number] as string;
  suffix = `${HEX[0x80 | ((p[i] as number) & 0x3f)] as string}${h(1)}-${h(2)}${h(3)}${h(4)}${h(5)}${h(6)}${h(7)}`;
}

/** A random 11-bit start for a millisecond's counter (headroom to count up). */
function drawStart(): number {
  const i = take(2);
  return (((pool[i] as number) << 3) | ((pool[i + 1] as number) >> 5)) & 0x7ff;
}

/** The top 24 bits of the timestamp last formatted, and their text (they change every 4.6 hours). */
let hiMs = -1;
let hiText = "";

/**
 * A new UUIDv7 for the instant `ms` (default: now).
 *
 * Every decision gets one, so it is cheap. RFC 9562 §6.2, method 1: a 12-bit counter in
 * `rand_a`, started at a random value each millisecond, orders and tells apart the ids of
 * one millisecond; `rand_b` is random, drawn each millisecond and again whenever a
 * millisecond's counter comes round to where it started, so no id repeats.
 */
export function uuidv7(ms: number = Date.now()): string {
  const t = Math.max(0, Math.floor(ms));
  if (t === lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === firstSequence) drawSuffix();
  } else {
    // A fresh rand_b each millisecond: an id seen does not tell the ids of later ones.
    drawSuffix();
    lastMs = t;
    sequence = drawStart();
    firstSequence = sequence;
    const hi = Math.floor(t / 0x1000000); // top 24 bits of the 48-bit timestamp
    const lo = t % 0x1000000;
    if (hi !== hiMs) {
      hiMs = hi;
      hiText = `${HEX[(hi >> 16) & 0xff] as string}${HEX[(hi >> 8) & 0xff] as string}${HEX[hi & 0xff] as string}`;
    }
    prefix = `${hiText}${HEX[lo >> 16] as string}-${HEX[(lo >> 8) & 0xff] as string}${HEX[lo & 0xff] as string}`;
  }
  return `${prefix}${VERSIONED[sequence] as string}${suffix}`;
}
