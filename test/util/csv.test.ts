/**
 * CSV cells (`csvField`, `csvLine`): RFC 4180 quoting, cells kept whole by spreadsheets that
 * separate on `;` or tab, and the formula guard.
 */
import { describe, expect, it } from "vitest";
// Internal: the CSV writer the CLI's listings and GET /audit-logs/export share.
import { csvField, csvLine } from "../../src/util/csv.ts";

describe("csvField", () => {
  it("quotes a cell holding a comma, quote or line break (RFC 4180)", () => {
    expect(csvField('say "hi", then\nleave')).toBe('"say ""hi"", then\nleave"');
    expect(csvField("a\r\nb")).toBe('"a\r\nb"');
    expect(csvField("plain")).toBe("plain");
    expect(csvField(null)).toBe("");
    expect(csvField(undefined)).toBe("");
    expect(csvField(1.5)).toBe("1.5");
    expect(csvField(false)).toBe("false");
  });

  it("quotes a cell holding a semicolon or a tab, so a ';'-separated locale keeps it one cell", () => {
    expect(csvField("a;b")).toBe('"a;b"');
    expect(csvField("a\tb")).toBe('"a\tb"');
    expect(csvField("a\rb")).toBe('"a\rb"');
    expect(csvField("a\nb")).toBe('"a\nb"');
    expect(csvLine(["x;y", "z"])).toBe('"x;y",z\r\n');
  });

  it("keeps a formula from running: a quote before =, +, -, @, tab or CR at the start", () => {
    expect(csvField("=1+1")).toBe("'=1+1");
    expect(csvField("+1")).toBe("'+1");
    expect(csvField("-1")).toBe("'-1");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("\t=1")).toBe('"\'\t=1"');
    expect(csvField("\r=1")).toBe('"\'\r=1"');
    expect(csvField("=a;b")).toBe('"\'=a;b"');
    // Numbers are written as they are.
    expect(csvField(-1)).toBe("-1");
  });
});
