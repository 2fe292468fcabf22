/**
 * Flushing a buffered log when the process ends: on `beforeExit` (the event loop ran
 * dry), and on SIGINT/SIGTERM, after which the signal does what it would have done.
 *
 * @module
 * @internal
 */

/**
 * Calls `flush` when the process is about to exit or receives SIGINT or SIGTERM. On a
 * signal every hook is removed, `flush` runs, and the signal is raised again so that the
 * process ends as it would have without the hooks.
 *
 * @returns A function that removes the hooks.
 */
export function flushOnExit(flush: () => Promise<void>): () => void {
  const handlers: [string, (...args: unknown[]) => void][] = [];
  const remove = () => {
    for (const [event, handler] of handlers) process.removeListener(event, handler);
  };
  const onBeforeExit = () => void flush();
  process.once("beforeExit", onBeforeExit);
  handlers.push(["beforeExit", onBeforeExit]);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const handler = () => {
      remove();
      // Flush, then let the signal do what it would have done without us.
      void flush().finally(() => process.kill(process.pid, signal));
    };
    process.once(signal, handler);
    handlers.push([signal, handler]);
  }
  return remove;
}
