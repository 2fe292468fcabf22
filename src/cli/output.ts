/**
 * How `hexarch-ctl` prints: tables that fit the terminal, stable JSON, RFC 4180 CSV, and
 * color only on a terminal that wants it.
 *
 * @module
 */

import { styleText } from "node:util";

/** An output stream as the CLI uses it. */
export interface OutputStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What a command needs from the world: streams, environment, working directory. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Output formats of listings. */
export type ListFormat = "table" | "json" | "csv";

/** Colors the CLI uses. */
export type Tone = "red" | "yellow" | "green" | "dim" | "bold" | "cyan";

/**
 * True when `stream` is a terminal and neither `NO_COLOR` (any value) nor `TERM=dumb`
 * asks for plain text. `FORCE_COLOR` (not `0`) turns color on anywhere.
 */
export function wantsColor(stream: OutputStream, env: CliIo["env"]): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/** A painter for one stream: `paint("red", text)`, a no-op without color. */
export function painter(
  stream: OutputStream,
  env: CliIo["env"],
): (tone: Tone, s: string) => string {
  if (!wantsColor(stream, env)) return (_tone, s) => s;
  return (tone, s) => styleText(tone, s, { validateStream: false });
}

/** Width to fit: the terminal's, else `COLUMNS`, else 80. */
export function outputWidth(stream: OutputStream, env: CliIo["env"]): number {
  if (stream.isTTY && stream.columns && stream.columns > 20) return stream.columns;
  const fromEnv = Number(env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 20 ? fromEnv : 80;
}

/** One column of a listing. */
export interface Column<T> {
  /** Header in tables. */
  readonly header: string;
  readonly value: (row: T) => string | number | null;
  /** Right-aligned (numbers). */
  readonly right?: boolean;
  /**
   * May be shortened (with `…`) to fit the width: columns with a higher number give up
   * space first. Columns without it keep their size.
   */
  readonly shrink?: number;
  /** Narrowest a shrinking column gets. @default 6 */
  readonly min?: number;
  /** Left out of tables narrower than this. */
  readonly hideBelow?: number;
  /** Color for a cell on a terminal. */
  readonly tone?: (row: T) => Tone | undefined;
}

/** Characters as a terminal counts them (code points; good enough for log text). */
const length = (s: string): number => [...s].length;

function cut(s: string, width: number): string {
  if (length(s) <= width) return s;
  if (width <= 1) return "…".slice(0, width);
  return `${[...s].slice(0, width - 1).join("")}…`;
}

const cellText = (v: string | number | null): string =>
  v === null ? "-" : typeof v === "number" ? v.toLocaleString("en-US") : v.replace(/\s+/g, " ");

/**
 * A table that fits `width`: shrinkable columns give up space (see {@link Column.shrink});
 * cells that no longer fit end in `…`.
 */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  width: number,
  paint: (tone: Tone, s: string) => string = (_t, s) => s,
): string {
  columns = columns.filter((c) => c.hideBelow === undefined || width >= c.hideBelow);
  const cells = rows.map((r) => columns.map((c) => cellText(c.value(r))));
  const widths = columns.map((c, i) =>
    Math.max(length(c.header), ...cells.map((row) => length(row[i] as string))),
  );
  const gap = 2;
  let excess = widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1) - width;
  while (excess > 0) {
    // Narrow the most willing column (highest `shrink`), widest first, down to its `min`.
    let pick = -1;
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i] as Column<T>;
      const w = widths[i] as number;
      if (!c.shrink || w <= (c.min ?? 6)) continue;
      const p = pick < 0 ? undefined : (columns[pick] as Column<T>);
      if (
        !p ||
        c.shrink > (p.shrink ?? 0) ||
        (c.shrink === p.shrink && w > (widths[pick] as number))
      )
        pick = i;
    }
    if (pick < 0) break;
    widths[pick] = (widths[pick] as number) - 1;
    excess--;
  }
  const line = (values: readonly string[], tones?: readonly (Tone | undefined)[]) =>
    values
      .map((v, i) => {
        const w = widths[i] as number;
        const text = cut(v, w);
        const pad = " ".repeat(Math.max(0, w - length(text)));
        const last = i === values.length - 1;
        const padded = columns[i]?.right ? pad + text : last ? text : text + pad;
        const tone = tones?.[i];
        return tone ? paint(tone, padded) : padded;
      })
      .join(" ".repeat(gap))
      .trimEnd();
  const out = [paint("bold", line(columns.map((c) => c.header)))];
  rows.forEach((r, k) => {
    out.push(
      line(
        cells[k] as string[],
        columns.map((c) => c.tone?.(r)),
      ),
    );
  });
  return `${out.join("\n")}\n`;
}

export { csvField, csvLine } from "../util/csv.ts";

/** Stable JSON for scripts: two-space indent, trailing newline. */
export const jsonText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
