/**
 * Money as the library shows it. Amounts are integer micro-dollars everywhere (no float
 * drift when many small costs add up); this is where they become text.
 *
 * @module
 */

/**
 * Micro-dollars as US dollars: two decimals from a cent up (`$12.50`), every significant
 * digit below (`$0.000125`).
 */
export function formatUsd(micros: number): string {
  if (micros === 0 || Math.abs(micros) >= 10_000) return `$${(micros / 1_000_000).toFixed(2)}`;
  // Below a cent: every significant micro-dollar digit, no trailing zeros.
  return `$${(micros / 1_000_000).toFixed(6).replace(/0+$/, "")}`;
}
