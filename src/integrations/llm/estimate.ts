/**
 * A tokenizer-free estimate of a request's prompt tokens: characters over a per-model
 * ratio for text, a fixed allowance for images, and a size-based one for other files.
 * It errs high (the reservation is settled to the exact usage afterwards); a real
 * tokenizer can replace it through the `estimateInputTokens` option.
 *
 * @module
 */

/** Tokens counted for an image part, whatever its size (providers downscale large images). */
export const IMAGE_TOKENS = 1600;
/** The least counted for a file part (a PDF page costs about this much). */
export const FILE_MIN_TOKENS = 1600;

const IMAGE_TYPE = /image/;
const FILE_TYPE = /^(?:file|input_file|document|input_audio|audio)$/;

/**
 * Estimated tokens of a request's content: strings (values and keys) count their length
 * over `charsPerToken`, plus half a token per extra UTF-8 byte (so CJK text and emoji count
 * more per character than Latin text); numbers and booleans one each; image parts
 * {@link IMAGE_TOKENS}; other binary parts at least {@link FILE_MIN_TOKENS}.
 */
export function estimateTokens(value: unknown, charsPerToken: number): number {
  const state = { chars: 0, extraBytes: 0, fixed: 0 };
  walk(value, state, 0);
  return Math.ceil(state.chars / charsPerToken + state.extraBytes / 2 + state.fixed);
}

interface Tally {
  chars: number;
  extraBytes: number;
  fixed: number;
}

function countString(s: string, t: Tally): void {
  t.chars += s.length;
  // Native and fast; equals the length for ASCII text.
  const bytes = Buffer.byteLength(s, "utf8");
  if (bytes > s.length) t.extraBytes += bytes - s.length;
}

function walk(v: unknown, t: Tally, depth: number): void {
  if (typeof v === "string") {
    countString(v, t);
    return;
  }
  if (typeof v === "number" || typeof v === "boolean") {
    t.fixed += 1;
    return;
  }
  if (v === null || typeof v !== "object" || depth > 64) return;
  if (Array.isArray(v)) {
    for (const item of v) walk(item, t, depth + 1);
    return;
  }
  if (v instanceof Uint8Array) {
    t.fixed += Math.max(FILE_MIN_TOKENS, Math.ceil(v.byteLength / 3));
    return;
  }
  const media = mediaTokens(v as Record<string, unknown>);
  if (media !== undefined) {
    t.fixed += media;
    return;
  }
  for (const key in v) {
    const item = (v as Record<string, unknown>)[key];
    if (item === undefined) continue;
    t.chars += key.length;
    walk(item, t, depth + 1);
  }
}

/** The allowance for an image or file part, or `undefined` for anything else (walked as text). */
function mediaTokens(part: Record<string, unknown>): number | undefined {
  const type = part.type;
  if (typeof type !== "string") return undefined;
  const mediaType = typeof part.mediaType === "string" ? part.mediaType : undefined;
  if (IMAGE_TYPE.test(type) || mediaType?.startsWith("image/")) return IMAGE_TOKENS;
  if (!FILE_TYPE.test(type)) return undefined;
  // Text documents are text: walk them.
  if (mediaType?.startsWith("text/")) return undefined;
  const source = part.source as { type?: unknown } | undefined;
  if (source && (source.type === "text" || source.type === "content")) return undefined;
  return Math.max(FILE_MIN_TOKENS, Math.ceil(stringChars(part, 0) / 4));
}

/** Total length of the strings inside a part (base64 data, URLs). */
function stringChars(v: unknown, depth: number): number {
  if (typeof v === "string") return v.length;
  if (v instanceof Uint8Array) return Math.ceil((v.byteLength * 4) / 3);
  if (v === null || typeof v !== "object" || depth > 16) return 0;
  let n = 0;
  for (const item of Array.isArray(v) ? v : Object.values(v)) n += stringChars(item, depth + 1);
  return n;
}
