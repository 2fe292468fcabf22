/**
 * The main-thread side of `SqliteAuditStore`'s writer thread: starts `writer-worker`,
 * posts batches, settles each append with the thread's acknowledgement, and fails them
 * clearly when the thread dies.
 *
 * @module
 */

import { Worker, type WorkerOptions } from "node:worker_threads";
import { GuardrailError } from "../kernel/errors.ts";
import type { WireBatch } from "./append.ts";
import type { WriterData, WriterReply, WriterRequest } from "./writer-worker.ts";

/**
 * The worker's file beside this module, with this module's extension: `.ts` when run from
 * source (tests, Node's type stripping), `.js` from `dist/` (a literal `./x.ts` in a URL is
 * not rewritten by the compiler).
 */
const WORKER_URL = new URL(
  `./writer-worker${/\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? ".js"}`,
  import.meta.url,
);

/**
 * A worker with the process's flags (so `--import` hooks, `--conditions` and type
 * stripping apply to it too), except `--input-type`, which names how the process's entry
 * point is read and stops the worker loading its file, and the flags a worker refuses
 * (`--expose-gc` and other V8 or process-wide ones): dropped, as Node names them.
 */
function spawnWorker(url: URL, options: WorkerOptions): Worker {
  const argv: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i] as string;
    if (a === "--input-type") i++;
    else if (!a.startsWith("--input-type=")) argv.push(a);
  }
  try {
    return new Worker(url, { ...options, execArgv: argv });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw err;
    const refused = new Set(/flags: (.*)$/.exec((err as Error).message)?.[1]?.split(", "));
    const kept = argv.filter((a) => !refused.has(a) && !refused.has(a.split("=")[0] as string));
    try {
      return new Worker(url, { ...options, execArgv: kept });
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw again;
      return new Worker(url, { ...options, execArgv: [] });
    }
  }
}

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * One writer thread for one database file. Appends are committed in the order posted; the
 * thread keeps the process alive only while appends are in flight, and is started again
 * by the next append after it died.
 */
export class WriterThread {
  readonly #path: string;
  readonly #url: URL;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closing: Promise<void> | undefined;

  /** `workerUrl`: the thread's script (tests give another). */
  constructor(path: string, workerUrl: URL = WORKER_URL) {
    this.#path = path;
    this.#url = workerUrl;
  }

  /** Posts a batch; settles once the thread has committed it (or failed to). */
  append(batch: WireBatch): Promise<void> {
    if (this.#closing !== undefined)
      return Promise.reject(
        new GuardrailError("the SQLite audit store is closed", { code: "store_closed" }),
      );
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#start();
    } catch (err) {
      return Promise.reject(
        new GuardrailError(
          `cannot start the SQLite audit writer thread: ${(err as Error).message}`,
          { code: "audit_writer_failed", cause: err },
        ),
      );
    }
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ type: "append", id, batch } satisfies WriterRequest);
    });
  }

  /** Waits for the appends in flight, closes the thread's connection and ends the thread. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    // The thread answers in order: "closed" comes after every append posted before it.
    await new Promise<void>((done) => {
      const onMessage = (reply: WriterReply) => {
        if (reply.type === "closed") finish();
      };
      const finish = () => {
        worker.off("message", onMessage);
        worker.off("exit", finish);
        done();
      };
      worker.on("message", onMessage);
      worker.once("exit", finish);
      worker.ref();
      worker.postMessage({ type: "close" } satisfies WriterRequest);
    });
    await worker.terminate();
    this.#stopped(
      worker,
      new GuardrailError("the SQLite audit store is closed", { code: "store_closed" }),
    );
  }

  #start(): Worker {
    const worker = spawnWorker(this.#url, {
      workerData: { path: this.#path } satisfies WriterData,
      name: "hexarch-sqlite-audit-writer",
    });
    worker.unref();
    worker.on("message", (reply: WriterReply) => this.#settle(worker, reply));
    worker.on("error", (err) => {
      this.#stopped(
        worker,
        new GuardrailError(`the SQLite audit writer thread failed: ${err.message}`, {
          code: "audit_writer_failed",
          cause: err,
        }),
      );
    });
    worker.on("messageerror", (err) => {
      this.#stopped(
        worker,
        new GuardrailError(`the SQLite audit writer thread sent an unreadable answer`, {
          code: "audit_writer_failed",
          cause: err,
        }),
      );
      void worker.terminate();
    });
    worker.on("exit", (code) => {
      this.#stopped(
        worker,
        new GuardrailError(`the SQLite audit writer thread exited (code ${code})`, {
          code: "audit_writer_failed",
        }),
      );
    });
    this.#worker = worker;
    return worker;
  }

  #settle(worker: Worker, reply: WriterReply): void {
    if (reply.type === "closed") return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0 && this.#closing === undefined) worker.unref();
    if (reply.type === "done") pending.resolve();
    else
      pending.reject(
        // The thread's own codes (`audit_chain_damaged`) stand; SQLite's (ERR_SQLITE_ERROR)
        // are not this library's, and are named by the message.
        new GuardrailError(reply.message, {
          code:
            reply.code !== undefined && /^[a-z]+(_[a-z]+)*$/.test(reply.code)
              ? reply.code
              : "audit_write_failed",
        }),
      );
  }

  /** The thread is gone: appends still waiting fail (the next append starts a new one). */
  #stopped(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}
