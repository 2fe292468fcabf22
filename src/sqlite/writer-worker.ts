/**
 * The writer thread of `SqliteAuditStore` with `{ worker: true }`: its own `node:sqlite`
 * connection to the store's file, on which it chains and commits the batches the store
 * posts, one at a time in the order posted, and acknowledges each after its `COMMIT` (or
 * with the error that rolled it back).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import { GuardrailError } from "../kernel/errors.ts";
import { decodeBatch, SQLITE_PRAGMAS, SqliteAppender, type WireBatch } from "./append.ts";

/** What the store posts to its writer thread. */
export type WriterRequest =
  | { readonly type: "append"; readonly id: number; readonly batch: WireBatch }
  | { readonly type: "close" };

/** What the writer thread posts back. */
export type WriterReply =
  | { readonly type: "done"; readonly id: number }
  | {
      readonly type: "failed";
      readonly id: number;
      readonly message: string;
      readonly code?: string;
    }
  | { readonly type: "closed" };

/** What the store passes as `workerData`. */
export interface WriterData {
  readonly path: string;
}

const port = parentPort;
if (port === null)
  throw new GuardrailError("writer-worker.ts runs as a worker thread of SqliteAuditStore", {
    code: "internal_misuse",
  });
const db = new DatabaseSync((workerData as WriterData).path);
db.exec(SQLITE_PRAGMAS);
const appender = new SqliteAppender(db);
let open = true;

port.on("message", (request: WriterRequest) => {
  if (request.type === "close") {
    // Not `db.isOpen`, which Node.js 22.13 and 22.14 lack: a second close is ignored.
    if (open) db.close();
    open = false;
    port.postMessage({ type: "closed" } satisfies WriterReply);
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    appender.append(decodeBatch(request.batch));
    reply = { type: "done", id: request.id };
  } catch (err) {
    const e =
      err instanceof Error
        ? err
        : new GuardrailError(String(err), { code: "non_error_thrown", cause: err });
    const code = (e as NodeJS.ErrnoException).code;
    reply = {
      type: "failed",
      id: request.id,
      message: e.message,
      ...(typeof code === "string" && { code }),
    };
  }
  port.postMessage(reply);
});
