/**
 * RFC 4180 CSV cells and lines, safe to open in a spreadsheet: the CLI's listings and
 * exports and the server's `GET /audit-logs/export` write CSV with these.
 *
 * @module
 */

/** A value a CSV cell holds (`null` and `undefined` are empty cells). */
export type CsvValue = string | number | boolean | null | undefined;

/**
 * Text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`) or that starts with a tab
 * or carriage return, which some spreadsheets strip before looking (OWASP's CSV injection
 * list).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text that a
 * spreadsheet would run as a formula is prefixed with a single quote (`'=1+1`), so opening
 * an export never runs what a caller put in a reason or a context; numbers and booleans are
 * written as they are.
 */
export function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return "";
  let s = String(v);
  if (typeof v === "string" && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A CSV line (CRLF-terminated, as RFC 4180 asks). */
export const csvLine = (values: readonly CsvValue[]): string =>
  `${values.map(csvField).join(",")}\r\n`;
