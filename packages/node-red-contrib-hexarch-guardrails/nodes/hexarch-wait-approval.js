// @ts-check

/**
 * `hexarch-wait-approval`: holds a message whose `msg.confirmationToken` awaits a human's
 * answer, polling `GET /approvals/:token`, and releases it on output 1 when approved, 2 when
 * denied, 3 when the request expired, was used already, or the wait timed out. Polling stops
 * when the node is closed (redeploy, shutdown); at most `maxPending` messages wait at once.
 */

const {
  HexarchError,
  request,
  fail,
  isObject,
  settingsOf,
  asHexarchError,
} = require("./lib/client");

/** @typedef {import("./lib/node-red").NodeAPI} NodeAPI */
/** @typedef {import("./lib/node-red").NodeMessage} NodeMessage */
/**
 * @typedef {import("./lib/node-red").NodeDef & {
 *   server?: string,
 *   interval?: string | number,
 *   timeout?: string | number,
 *   maxPending?: string | number,
 * }} WaitApprovalDef
 */

/**
 * @param {unknown} value
 * @param {number} fallback
 * @returns {number}
 */
function positive(value, fallback) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** Upper bounds (seconds, messages): an hour between polls, a week of waiting (below
 * setTimeout's 24.8-day limit, past which Node fires at once), 10,000 waiting messages. */
const LIMITS = { interval: 3600, timeout: 7 * 24 * 3600, maxPending: 10_000 };

/**
 * Why the node's settings cannot run, or undefined when they can.
 *
 * @param {WaitApprovalDef} def
 * @returns {string | undefined}
 */
function invalidSettings(def) {
  for (const key of /** @type {const} */ (["interval", "timeout", "maxPending"])) {
    const raw = def[key];
    if (raw === undefined || raw === "") continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > LIMITS[key])
      return `${key} must be a number above 0 and at most ${LIMITS[key]} (got ${JSON.stringify(raw)})`;
  }
  return undefined;
}

/** Failures worth another try: no answer, or the server busy or failing. */
const TRANSIENT = new Set(["hexarch_unreachable", "hexarch_timeout", "rate_limited"]);

/** @param {NodeAPI} RED */
module.exports = function register(RED) {
  /**
   * @this {import("./lib/node-red").Node<object>}
   * @param {WaitApprovalDef} def
   */
  function HexarchWaitApprovalNode(def) {
    RED.nodes.createNode(this, def);
    const intervalMs = positive(def.interval, 5) * 1000;
    const timeoutMs = positive(def.timeout, 600) * 1000;
    const maxPending = Math.floor(positive(def.maxPending, 100));
    const invalid = invalidSettings(def);
    if (invalid) {
      this.error(`hexarch: ${invalid}`);
      this.status({ fill: "red", shape: "ring", text: "invalid settings" });
    }
    // Aborts the requests in flight when the node closes (redeploy, shutdown).
    const aborter = new AbortController();
    /** @type {Map<NodeMessage, { timer: NodeJS.Timeout | undefined, done: () => void }>} */
    const pending = new Map();
    let closed = false;

    const showCount = () =>
      this.status(
        pending.size === 0
          ? {}
          : { fill: "yellow", shape: "ring", text: `waiting: ${pending.size}` },
      );

    this.on("input", (msg, send, done) => {
      const token = msg.confirmationToken;
      let server;
      try {
        if (invalid) throw new HexarchError(`hexarch: ${invalid}`, "hexarch_not_configured", null);
        if (typeof token !== "string" || token === "")
          throw new HexarchError(
            "hexarch: msg.confirmationToken is missing (connect output 3 of hexarch-authorize)",
            "hexarch_invalid_input",
            null,
          );
        if (pending.size >= maxPending)
          throw new HexarchError(
            `hexarch: already waiting for ${pending.size} approvals (the node's limit); message refused`,
            "hexarch_too_many_pending",
            null,
          );
        server = settingsOf(RED, def.server);
      } catch (err) {
        fail(this, msg, done, err);
        return;
      }
      const settings = server;
      const deadline = Date.now() + timeoutMs;
      const entry = {
        timer: /** @type {NodeJS.Timeout | undefined} */ (undefined),
        done: () => done(),
      };
      pending.set(msg, entry);
      showCount();

      /**
       * @param {0 | 1 | 2} output
       * @param {Record<string, unknown>} approval
       */
      const release = (output, approval) => {
        if (!pending.delete(msg)) return;
        msg.approval = approval;
        /** @type {(NodeMessage | null)[]} */
        const out = [null, null, null];
        out[output] = msg;
        send(out);
        showCount();
        done();
      };

      const poll = async () => {
        entry.timer = undefined;
        if (closed || !pending.has(msg)) return;
        try {
          const answer = await request(settings, "GET", `/approvals/${encodeURIComponent(token)}`, {
            signal: aborter.signal,
          });
          if (closed || !pending.has(msg)) return;
          if (!isObject(answer) || typeof answer.status !== "string")
            throw new HexarchError(
              "hexarch: GET /approvals/:token answered something that is not an approval",
              "hexarch_bad_response",
              200,
            );
          if (answer.status === "approved") return release(0, answer);
          if (answer.status === "denied") return release(1, answer);
          if (answer.status !== "pending") return release(2, answer); // expired, consumed
        } catch (err) {
          if (closed || !pending.has(msg)) return;
          const e = asHexarchError(err);
          const transient = TRANSIENT.has(e.code) || (e.status !== null && e.status >= 500);
          if (!transient) {
            pending.delete(msg);
            showCount();
            fail(this, msg, done, e);
            return;
          }
          this.warn(`${e.message}; trying again`);
        }
        const left = deadline - Date.now();
        if (left <= 0) return release(2, { status: "timeout", waitedMs: timeoutMs });
        entry.timer = setTimeout(poll, Math.min(intervalMs, left));
      };
      void poll();
    });

    this.on("close", (_removed, done) => {
      closed = true;
      aborter.abort();
      for (const entry of pending.values()) {
        if (entry.timer !== undefined) clearTimeout(entry.timer);
        entry.done();
      }
      pending.clear();
      this.status({});
      done();
    });
  }
  RED.nodes.registerType("hexarch-wait-approval", HexarchWaitApprovalNode);
};
