/**
 * Timeouts for the commands of one Redis connection, cheap enough for the hot path: one
 * shared timer for every command (a timer and a `Promise.race` per command cost
 * microseconds), and one `AbortController` per slice of commands (one per command cost
 * more than the rest of the client layer).
 *
 * @module
 * @internal
 */

/**
 * Commands sent within {@link SLICE_MS} of a slice's first command share one
 * `AbortController`: it is aborted once the last of them still waiting has timed out, so
 * node-redis drops those still in its offline queue, and a command answered in time is
 * never aborted.
 */
interface Slice {
  readonly controller: AbortController;
  /** `performance.now()` after which new commands open a new slice. */
  readonly closesAt: number;
  /** Commands of the slice neither answered nor failed nor timed out. */
  open: number;
}

/** How long commands keep joining one {@link Slice}, in ms. */
const SLICE_MS = 10;

/** A command waiting for its answer. */
export interface Deadline {
  /** Aborted when the command timed out (with the rest of its slice): pass it to the client. */
  readonly signal: AbortSignal;
  /** Answered, failed or timed out: once true, the command's outcome is decided. */
  readonly settled: boolean;
}

interface Entry extends Deadline {
  /** `performance.now()` by which it must be answered. */
  readonly deadline: number;
  readonly what: string;
  readonly slice: Slice;
  readonly reject: (err: unknown) => void;
  settled: boolean;
}

/**
 * The deadlines of one connection's commands. Commands wait in the order sent, so their
 * deadlines only grow, and the timer is armed for the oldest one still waiting; when
 * nothing waits it stays armed but unreferenced (it never keeps the process alive).
 */
export class CommandDeadlines {
  readonly #timeoutMs: number;
  readonly #timedOut: (what: string) => Error;
  /** Commands sent and not yet known to be answered, oldest first, from {@link #head}. */
  readonly #pending: Entry[] = [];
  #head = 0;
  /** Commands still waiting for an answer. */
  #outstanding = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The slice new commands join. */
  #slice: Slice | undefined;

  /**
   * @param timeoutMs How long each command may wait.
   * @param timedOut The error a command that timed out is rejected with.
   */
  constructor(timeoutMs: number, timedOut: (what: string) => Error) {
    this.#timeoutMs = timeoutMs;
    this.#timedOut = timedOut;
  }

  /** Starts watching a command; `reject` is called if it times out before {@link settle}. */
  watch(what: string, reject: (err: unknown) => void): Deadline {
    const now = performance.now();
    let slice = this.#slice;
    if (slice === undefined || now > slice.closesAt) {
      slice = { controller: new AbortController(), closesAt: now + SLICE_MS, open: 0 };
      this.#slice = slice;
    }
    slice.open++;
    const entry: Entry = {
      deadline: now + this.#timeoutMs,
      what,
      slice,
      signal: slice.controller.signal,
      reject,
      settled: false,
    };
    this.#pending.push(entry);
    if (++this.#outstanding === 1) this.#timer?.ref();
    this.#timer ??= setTimeout(this.#expire, Math.max(0, entry.deadline - performance.now()));
    return entry;
  }

  /** The command was answered or failed: it no longer times out. Call it once. */
  settle(deadline: Deadline): void {
    const entry = deadline as Entry;
    entry.settled = true;
    entry.slice.open--;
    // Nothing waits: the timer must not keep the process alive (it stays armed, cheaply).
    if (--this.#outstanding === 0) this.#timer?.unref();
    const q = this.#pending;
    let head = this.#head;
    while (head < q.length && (q[head] as Entry).settled) head++;
    if (head === q.length) {
      q.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > q.length) {
      q.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }

  /** The shared timer fired: fails every command past its deadline, re-arms for the next. */
  readonly #expire = () => {
    this.#timer = undefined;
    const now = performance.now();
    const q = this.#pending;
    let head = this.#head;
    for (; head < q.length; head++) {
      const entry = q[head] as Entry;
      if (entry.settled) continue;
      if (entry.deadline > now) break;
      entry.settled = true;
      this.#outstanding--;
      entry.reject(this.#timedOut(entry.what));
      // node-redis drops a command still waiting to be sent, so it never runs later; the
      // slice's younger commands may still be answered in time, so it waits for them.
      const slice = entry.slice;
      if (--slice.open === 0) {
        if (this.#slice === slice) this.#slice = undefined;
        slice.controller.abort();
      }
    }
    if (head === q.length) {
      q.length = 0;
      this.#head = 0;
      return;
    }
    this.#head = head;
    this.#timer = setTimeout(
      this.#expire,
      Math.max(0, (q[head] as Entry).deadline - performance.now()),
    );
    if (this.#outstanding === 0) this.#timer.unref();
  };
}
