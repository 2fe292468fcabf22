/**
 * A fast reader for the plain block YAML that policy files are almost always written in:
 * nested block mappings and sequences of one-line scalars and flow lists of scalars.
 * Reading 20,000 policies with the full `yaml` parser took seconds; this takes tens of
 * milliseconds. Anything it does not fully understand (anchors, aliases, tags, merge
 * keys, block or multi-line scalars, flow mappings, directives, tabs, odd escapes,
 * duplicate or non-string keys, ...) makes it give up, and the caller reads the text
 * with `yaml` as before, so a file never means something different, and every problem
 * is still found and placed by `yaml`. When it succeeds the data is exactly what
 * `yaml`'s `parseDocument(...).toJS()` gives (YAML 1.2 core schema), which
 * test/policy/fast-yaml.test.ts checks against `yaml` on generated documents.
 *
 * @module
 */

/** What the fast reader gives: the data, and where each mapping and sequence starts. */
export interface FastYaml {
  readonly data: unknown;
  /** Start of each collection, packed as `line * 2 ** 26 + column` (both 1-based). */
  readonly starts: Map<object, number>;
}

/** Packs a 1-based line and column into one number (see {@link FastYaml.starts}). */
const COL_LIMIT = 2 ** 26;

/** Thrown inside the reader to give up; never escapes {@link readFastYaml}. */
const BAIL: unique symbol = Symbol("bail");

/** Characters `yaml` treats specially or that this reader leaves to it. */
const UNSUPPORTED =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
  /[\t\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|\r(?!\n)/;
/** Document markers and directives at the start of a line. */
const MARKERS = /^(?:---|\.\.\.)(?:[ \r\n]|$)|^%/m;
/** A plain key: letters, digits and a few punctuation marks, single spaces between words. */
const PLAIN_KEY = /^([\p{L}\p{N}_$][\p{L}\p{N}_$./()+-]*(?: [\p{L}\p{N}_$./()+-]+)*):(?= |$)/u;
/** A plain scalar in a flow list: no flow indicators, quotes, colons or comments. */
const FLOW_PLAIN = /^(?:[^\s,[\]{}#:'"&*!|>%@`?-]|-(?=[^\s,[\]{}]))[^,[\]{}#:'"]*$/;
/** Escapes that mean the same in YAML double quotes and JSON. */
const JSON_ESCAPES = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/g;

/**
 * Reads `text` when it is in the supported subset; `undefined` when the full `yaml`
 * parser must decide (including every file with a syntax problem).
 */
export function readFastYaml(text: string): FastYaml | undefined {
  if (UNSUPPORTED.test(text) || MARKERS.test(text)) return undefined;
  try {
    return new Reader(text).read();
  } catch {
    return undefined; // BAIL, or a quoted string JSON would not take: yaml decides
  }
}

/** Unpacks a position from {@link FastYaml.starts}. */
export function unpackPosition(packed: number): { line: number; column: number } {
  const line = Math.floor(packed / COL_LIMIT);
  return { line, column: packed - line * COL_LIMIT };
}

function bail(): never {
  throw BAIL;
}

class Reader {
  readonly #lines: string[];
  /** Indent of each line, or -1 for a blank or comment-only line. */
  readonly #indent: Int32Array;
  readonly #starts = new Map<object, number>();
  /** Index of the current line. */
  #i = 0;

  constructor(text: string) {
    const lines = text.split("\n");
    const indent = new Int32Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i] as string;
      if (line.endsWith("\r")) {
        line = line.slice(0, -1);
        lines[i] = line;
      }
      let n = 0;
      while (line.charCodeAt(n) === 32) n++;
      indent[i] = n === line.length || line.charCodeAt(n) === 35 /* # */ ? -1 : n;
    }
    this.#lines = lines;
    this.#indent = indent;
  }

  read(): FastYaml {
    this.#skipBlank();
    if (this.#i >= this.#lines.length) bail(); // empty: let yaml word the message
    const data = this.#block(this.#indent[this.#i] as number, 0);
    this.#skipBlank();
    if (this.#i < this.#lines.length || data === null) bail(); // yaml words "empty"
    return { data, starts: this.#starts };
  }

  #skipBlank(): void {
    while (this.#i < this.#lines.length && this.#indent[this.#i] === -1) this.#i++;
  }

  #mark(value: object, line: number, col: number): void {
    if (col + 1 >= COL_LIMIT) bail();
    this.#starts.set(value, (line + 1) * COL_LIMIT + col + 1);
  }

  /** A block collection whose first entry starts at column `col` of the current line. */
  #block(col: number, min: number): unknown {
    if (col < min) bail();
    const line = this.#lines[this.#i] as string;
    const c = line.charCodeAt(col);
    if (c === 45 /* - */ && isSpaceOrEnd(line, col + 1)) return this.#seq(col);
    const text = line.slice(col);
    if (plainKey(text) !== undefined || isQuotedKey(text)) return this.#map(col);
    // A one-line scalar or flow list on a line of its own.
    const value = this.#inline(text);
    this.#i++;
    return value;
  }

  /** A block sequence whose dashes are at column `col`; the first is on the current line. */
  #seq(col: number): unknown[] {
    const out: unknown[] = [];
    this.#mark(out, this.#i, col);
    for (;;) {
      const row = this.#i;
      const line = this.#lines[row] as string;
      if (line.charCodeAt(col) !== 45 || !isSpaceOrEnd(line, col + 1)) bail();
      let at = col + 1;
      while (line.charCodeAt(at) === 32) at++;
      const rest = line.slice(at);
      if (rest === "" || rest.startsWith("#")) {
        if (rest !== "") bail(); // a comment right after the dash: leave it to yaml
        this.#i++;
        this.#skipBlank();
        const next = this.#indent[this.#i];
        out.push(next !== undefined && next > col ? this.#block(next, col + 1) : null);
      } else if (rest.charCodeAt(0) === 45 && isSpaceOrEnd(rest, 1)) {
        bail(); // "- - x"
      } else if (plainKey(rest) !== undefined || isQuotedKey(rest)) {
        out.push(this.#map(at));
      } else {
        out.push(this.#inline(rest));
        this.#i++;
      }
      this.#skipBlank();
      const next = this.#indent[this.#i];
      if (next === undefined || next < col) return out;
      if (next > col) bail();
      const l = this.#lines[this.#i] as string;
      if (l.charCodeAt(col) !== 45 || !isSpaceOrEnd(l, col + 1)) return out;
    }
  }

  /** A block mapping whose keys are at column `col`; the first is on the current line. */
  #map(col: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.#mark(out, this.#i, col);
    for (;;) {
      const line = this.#lines[this.#i] as string;
      const text = line.slice(col);
      let key: string;
      let rest: string;
      const plain = plainKey(text);
      if (plain !== undefined) {
        const k = plain;
        if (resolvePlain(k) !== k) bail(); // `1:`, `true:`, `null:` keys
        key = k;
        rest = text.slice(k.length + 1);
      } else {
        const q = quoted(text);
        if (!q || text.charCodeAt(q.end) !== 58 /* : */ || !isSpaceOrEnd(text, q.end + 1)) bail();
        key = q.value;
        rest = text.slice(q.end + 1);
      }
      if (key.length > 1000 || key === "__proto__" || Object.hasOwn(out, key)) bail();
      const value = afterKey(rest);
      if (value === undefined) {
        this.#i++;
        this.#skipBlank();
        const next = this.#indent[this.#i];
        if (next !== undefined && next > col) out[key] = this.#block(next, col + 1);
        else if (next === col && isDash(this.#lines[this.#i] as string, col))
          out[key] = this.#seq(col);
        else out[key] = null;
      } else {
        out[key] = this.#inline(value);
        this.#i++;
      }
      this.#skipBlank();
      const next = this.#indent[this.#i];
      if (next === undefined || next < col) return out;
      if (next > col) bail();
      if (isDash(this.#lines[this.#i] as string, col)) return out; // the parent list goes on
    }
  }

  /** A one-line value: a quoted or plain scalar, or a flow list of scalars. */
  #inline(text: string): unknown {
    const c = text.charCodeAt(0);
    if (c === 34 || c === 39) {
      const q = quoted(text);
      if (!q || !isCommentOrEnd(text, q.end)) bail();
      return q.value;
    }
    if (c === 91 /* [ */) return this.#flowList(text);
    if (c === 123 /* { */) return this.#emptyFlowMap(text);
    const value = plainScalar(text);
    return resolvePlain(value);
  }

  /** `{}`: the only flow mapping read here. */
  #emptyFlowMap(text: string): Record<string, unknown> {
    let at = 1;
    while (text.charCodeAt(at) === 32) at++;
    if (text.charCodeAt(at) !== 125 /* } */ || !isCommentOrEnd(text, at + 1)) bail();
    const out = {};
    this.#mark(out, this.#i, (this.#lines[this.#i] as string).length - text.length);
    return out;
  }

  #flowList(text: string): unknown[] {
    const out: unknown[] = [];
    this.#mark(out, this.#i, (this.#lines[this.#i] as string).length - text.length);
    let at = 1;
    const skip = () => {
      while (text.charCodeAt(at) === 32) at++;
    };
    skip();
    if (text.charCodeAt(at) === 93 /* ] */) {
      if (!isCommentOrEnd(text, at + 1)) bail();
      return out;
    }
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === 34 || c === 39) {
        const q = quoted(text.slice(at));
        if (!q) bail();
        out.push(q.value);
        at += q.end;
      } else {
        let end = at;
        while (end < text.length && text[end] !== "," && text[end] !== "]") end++;
        const item = text.slice(at, end).replace(/ +$/, "");
        if (!FLOW_PLAIN.test(item) || item.includes(" #")) bail();
        out.push(resolvePlain(item));
        at = end;
      }
      skip();
      const sep = text.charCodeAt(at);
      at++;
      if (sep === 93) {
        if (!isCommentOrEnd(text, at)) bail();
        return out;
      }
      if (sep !== 44 /* , */) bail();
      skip();
      if (text.charCodeAt(at) === 93 || text.charCodeAt(at) === 44) bail(); // trailing/empty
    }
  }
}

/** The plain key at the start of `text` (followed by `:` and a space or the end), if any. */
function plainKey(text: string): string | undefined {
  // ASCII letters, digits, `_` and `-` are the usual keys: scan those without a regex.
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const word = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
    if (!word && (c !== 45 || i === 0)) break;
  }
  if (i > 0 && text.charCodeAt(i) === 58 && isSpaceOrEnd(text, i + 1)) return text.slice(0, i);
  return PLAIN_KEY.exec(text)?.[1];
}

function isSpaceOrEnd(text: string, at: number): boolean {
  return at >= text.length || text.charCodeAt(at) === 32;
}

function isDash(line: string, col: number): boolean {
  return line.charCodeAt(col) === 45 && isSpaceOrEnd(line, col + 1);
}

function isQuotedKey(text: string): boolean {
  const q = quoted(text);
  return q !== undefined && text.charCodeAt(q.end) === 58 && isSpaceOrEnd(text, q.end + 1);
}

/** After `:`: `undefined` when the value is on the following lines, else its text. */
function afterKey(rest: string): string | undefined {
  let at = 0;
  while (rest.charCodeAt(at) === 32) at++;
  if (at === rest.length || rest.charCodeAt(at) === 35) return undefined;
  return rest.slice(at);
}

/** Only spaces, then optionally a comment (after at least one space), to the end. */
function isCommentOrEnd(text: string, at: number): boolean {
  let i = at;
  while (text.charCodeAt(i) === 32) i++;
  return i === text.length || (i > at && text.charCodeAt(i) === 35);
}

/** A quoted scalar at the start of `text`, ending on the same line. */
function quoted(text: string): { value: string; end: number } | undefined {
  const q = text[0];
  if (q === "'") {
    let i = 1;
    let value = "";
    for (;;) {
      const j = text.indexOf("'", i);
      if (j === -1) return undefined;
      value += text.slice(i, j);
      if (text[j + 1] === "'") {
        value += "'";
        i = j + 2;
      } else {
        return { value, end: j + 1 };
      }
    }
  }
  if (q === '"') {
    let i = 1;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) return undefined;
    const body = text.slice(1, i);
    if (body.includes("\\") && body.replace(JSON_ESCAPES, "").includes("\\")) return undefined;
    return { value: JSON.parse(`"${body}"`) as string, end: i + 1 };
  }
  return undefined;
}

/** A plain scalar's text: up to a comment, trailing spaces dropped; gives up on the unusual. */
function plainScalar(text: string): string {
  const c = text[0] as string;
  // Indicators that start something else (or an error) in YAML.
  if ("[]{},#&*!|>'\"%@`".includes(c)) bail();
  if ((c === "-" || c === "?" || c === ":") && isSpaceOrEnd(text, 1)) bail();
  const hash = text.indexOf(" #");
  const value = (hash === -1 ? text : text.slice(0, hash)).replace(/ +$/, "");
  // `a: b: c` and `a: b:` are errors or nested mappings: leave them to yaml.
  if (value.includes(": ") || value.endsWith(":")) bail();
  return value;
}

/** The YAML 1.2 core schema, exactly as `yaml` resolves plain scalars. */
function resolvePlain(s: string): unknown {
  // Most scalars are words: none of the forms below starts with another letter.
  const c = s.charCodeAt(0) | 0x20; // ASCII lower case
  if (c >= 0x61 && c <= 0x7a && c !== 0x74 && c !== 0x66 && c !== 0x6e) return s;
  if (s === "" || s === "~" || s === "null" || s === "Null" || s === "NULL") return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(s)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(s)) return false;
  if (/^0o[0-7]+$/.test(s)) return Number.parseInt(s.substring(2), 8);
  if (/^[-+]?[0-9]+$/.test(s)) return Number.parseInt(s, 10);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.substring(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s)) {
    if (s.slice(-3).toLowerCase() === "nan") return Number.NaN;
    return s[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s)) return Number.parseFloat(s);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s)) return Number.parseFloat(s);
  return s;
}
