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
 * What makes a field quoted: RFC 4180's comma, quote and line breaks, and the other
 * separators a spreadsheet may split on (`;` in locales whose decimal mark is a comma, tab).
 */
const NEEDS_QUOTES = /[",;\t\r\n]/;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, semicolon, tab, quote or line
 * break (so a spreadsheet that separates on `;` or tab keeps it one cell). Text that a
 * spreadsheet would run as a formula is prefixed with a single quote (`'=1+1`), so opening
 * an export never runs what a caller put in a reason or a context; numbers and booleans are
 * written as they are.
 */
export function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return "";
  let s = String(v);
  if (typeof v === "string" && FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A CSV line (CRLF-terminated, as RFC 4180 asks). */
export const csvLine = (values: readonly CsvValue[]): string =>
  `${values.map(csvField).join(",")}\r\n`;
