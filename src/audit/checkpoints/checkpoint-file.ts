/**
 * Checkpoints shipped out of the database's reach: an append-only JSONL file, one signed
 * checkpoint per line (`serve api --checkpoint-file`, `hexarch-ctl audit checkpoint
 * --checkpoint-file`), read back by `hexarch-ctl audit verify --checkpoints FILE`. Someone
 * who can rewrite the database but not this file (another host, a write-once bucket, an
 * append-only mount) can no longer remove what a checkpoint in it covers unnoticed.
 *
 * @module
 */

import { open, readFile } from "node:fs/promises";
import { GuardrailError } from "../../kernel/errors.ts";
import type { AuditVerification } from "./checkpoints.ts";
import type { AuditCheckpoint } from "./types.ts";

/** Appends are serialised per file within a process, so two lines never interleave. */
const queues = new Map<string, Promise<void>>();

/**
 * Appends one checkpoint as a JSON line (opened with `O_APPEND`, flushed to disk with
 * `fsync` before it resolves). The line is the checkpoint itself: its HMAC signature
 * covers every field.
 * @throws GuardrailError naming the file when it cannot be written.
 */
export function appendCheckpointFile(path: string, checkpoint: AuditCheckpoint): Promise<void> {
  const line = `${JSON.stringify(checkpoint)}\n`;
  const previous = queues.get(path) ?? Promise.resolve();
  const next = previous.then(async () => {
    try {
      const fh = await open(path, "a", 0o600);
      try {
        await fh.appendFile(line, "utf8");
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new GuardrailError(
        `cannot append the audit checkpoint to ${path}: ${(err as Error).message}`,
        { code: "checkpoint_file_unavailable", cause: err },
      );
    }
  });
  const settled = next.catch(() => {});
  queues.set(path, settled);
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return next;
}

/** What {@link readCheckpointFile} found. */
export interface CheckpointFile {
  /** The well-formed lines, in file order (their signatures are not checked here). */
  readonly checkpoints: readonly AuditCheckpoint[];
  /** Lines that are not a checkpoint (1-based line numbers): an edited or torn file. */
  readonly badLines: readonly { readonly line: number; readonly message: string }[];
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** One parsed line as a checkpoint, or why it is not one. */
function toCheckpoint(v: unknown): AuditCheckpoint | string {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not a JSON object";
  const o = v as Record<string, unknown>;
  for (const k of ["id", "headHash", "createdAt", "actor", "keyId", "signature"] as const)
    if (typeof o[k] !== "string") return `field ${k} is missing or not a string`;
  if (!isInt(o.seq)) return "field seq is missing or not a whole number";
  if (!isInt(o.records)) return "field records is missing or not a whole number";
  return {
    id: o.id as string,
    seq: o.seq,
    headHash: o.headHash as string,
    records: o.records,
    createdAt: o.createdAt as string,
    actor: o.actor as string,
    keyId: o.keyId as string,
    signature: o.signature as string,
  };
}

/**
 * Reads a checkpoint file. Blank lines are ignored; a last line without its newline (a torn
 * append) and any line that is not a checkpoint are listed in `badLines`.
 * @throws GuardrailError naming the file when it cannot be read.
 */
export async function readCheckpointFile(path: string): Promise<CheckpointFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new GuardrailError(`cannot read the checkpoint file ${path}: ${(err as Error).message}`, {
      code: "checkpoint_file_unavailable",
      cause: err,
    });
  }
  const checkpoints: AuditCheckpoint[] = [];
  const badLines: { line: number; message: string }[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    if (raw.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      badLines.push({
        line: i + 1,
        message: i === lines.length - 1 ? "a torn last line (no newline)" : "not JSON",
      });
      return;
    }
    const c = toCheckpoint(parsed);
    if (typeof c === "string") badLines.push({ line: i + 1, message: c });
    else checkpoints.push(c);
  });
  return { checkpoints, badLines };
}

/**
 * One sentence saying why a verification against checkpoints failed, naming the
 * checkpoint, its position and what the chain holds there; `undefined` when it passed.
 */
export function checkpointFailureMessage(
  v: AuditVerification,
  checkpoints: readonly AuditCheckpoint[],
): string | undefined {
  if (!v.chain.ok)
    return `the chain breaks: ${v.chain.message ?? `at ${v.chain.firstBadDecisionId}`}`;
  const { firstBadCheckpointId: id, problem } = v.checkpoints;
  if (v.checkpoints.ok || id === undefined) return undefined;
  const c = checkpoints.find((x) => x.id === id);
  const what = c ? `checkpoint ${id} (seq ${c.seq}, taken ${c.createdAt} by ${c.actor})` : id;
  switch (problem) {
    case "bad_signature":
      return `${what} does not carry a valid signature under key id ${c?.keyId}: it was edited, or signed with another key under that id`;
    case "truncated":
      return `${what} is past the chain's end (seq ${v.head?.seq ?? "?"}): the records it covered were removed and the head moved back`;
    default:
      return `${what} no longer matches the chain: the entry at seq ${c?.seq} is gone or has another hash (records it covered were removed or rewritten)`;
  }
}
