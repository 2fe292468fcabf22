/**
 * Log lines batched per turn of the event loop: `serve api` logs a line per request at
 * `info`, and standard output on Linux is written synchronously (files and pipes alike),
 * one system call per line. Under load that was about a tenth of the server's time; lines
 * written in one turn now leave in one write, at most one turn later.
 *
 * @module
 */

/** Where lines go (`process.stdout`, or a test's stream). */
export interface LineSink {
  write(chunk: string): unknown;
}

/** A sink that batches, and how to write what it holds now. */
export interface BatchedLines extends LineSink {
  /** Writes the lines held (on shutdown and at process exit). */
  flush(): void;
  /** Flushes and stops flushing at process exit. */
  close(): void;
}

/** A batch larger than this is written at once. */
const MAX_BATCH_CHARS = 64 * 1024;

/**
 * Batches the lines written to `out` within one turn of the event loop into one write; a
 * process `exit` handler writes what is left (standard output is synchronous there).
 */
export function batchedLines(out: LineSink): BatchedLines {
  let held = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (held === "") return;
    const chunk = held;
    held = "";
    out.write(chunk);
  };
  const onTick = () => flush();
  process.on("exit", flush);
  return {
    write(line) {
      held += line;
      if (held.length >= MAX_BATCH_CHARS) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(onTick);
      }
      return true;
    },
    flush,
    close() {
      flush();
      process.removeListener("exit", flush);
    },
  };
}
