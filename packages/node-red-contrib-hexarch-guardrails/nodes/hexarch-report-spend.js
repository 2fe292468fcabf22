// @ts-check

/**
 * `hexarch-report-spend`: reports a provider call after the fact
 * (`POST /events/provider-calls`), so USD and token budgets count what it cost. The message
 * goes on with the server's answer in `msg.hexarchSpend`; failures go to the catch path.
 */

const { HexarchError, request, fail, isObject, settingsOf } = require("./lib/client");

/** @typedef {import("./lib/node-red").NodeAPI} NodeAPI */
/** @typedef {import("./lib/node-red").NodeMessage} NodeMessage */
/**
 * @typedef {import("./lib/node-red").NodeDef & {
 *   server?: string,
 *   resource?: string,
 *   model?: string,
 *   action?: string,
 * }} ReportSpendDef
 */

/**
 * The first of `names` that `msg` (or `msg.providerCall`) carries.
 *
 * @param {NodeMessage} msg
 * @param {readonly string[]} names
 * @returns {unknown}
 */
function pick(msg, names) {
  const call = isObject(msg.providerCall) ? msg.providerCall : {};
  for (const source of [call, msg])
    for (const name of names)
      if (source[name] !== undefined && source[name] !== "") return source[name];
  return undefined;
}

/**
 * @param {string} field
 * @param {unknown} value
 * @returns {number | undefined}
 */
function numberOrUndefined(field, value) {
  if (value === undefined) return undefined;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
    throw new HexarchError(
      `hexarch: ${field} must be a number of at least 0, not ${JSON.stringify(value)}`,
      "hexarch_invalid_input",
      null,
    );
  return n;
}

/** @param {NodeAPI} RED */
module.exports = function register(RED) {
  /**
   * @this {import("./lib/node-red").Node<object>}
   * @param {ReportSpendDef} def
   */
  function HexarchReportSpendNode(def) {
    RED.nodes.createNode(this, def);
    this.on("input", (msg, send, done) => {
      (async () => {
        const server = settingsOf(RED, def.server);
        // msg.resource may be the Python request shape's `{ type, id }` (the thing acted on,
        // left by an authorize flow), not a provider: then the node's own resource is used.
        const given = pick(msg, ["resource"]);
        const resource =
          (typeof given === "string" ? given : undefined) ?? (def.resource || undefined);
        if (typeof resource !== "string" || resource === "")
          throw new HexarchError(
            "hexarch: no resource to report (set it on the node, or msg.resource)",
            "hexarch_invalid_input",
            null,
          );
        const model = pick(msg, ["model"]) ?? (def.model || undefined);
        const action =
          pick(msg, ["providerAction", "provider_action"]) ?? (def.action || undefined);
        const tokensIn = numberOrUndefined("tokens in", pick(msg, ["tokensIn", "tokens_in"]));
        const tokensOut = numberOrUndefined("tokens out", pick(msg, ["tokensOut", "tokens_out"]));
        const cost = numberOrUndefined("cost", pick(msg, ["costUsd", "cost_usd"]));
        const latency = numberOrUndefined("latency", pick(msg, ["latencyMs", "latency_ms"]));
        const ok = pick(msg, ["ok"]);
        const statusCode = pick(msg, ["statusCode", "status_code"]);
        const metadata = pick(msg, ["metadata"]);
        /** @type {Record<string, unknown>} */
        const body = { resource };
        if (typeof action === "string") body.action = action;
        if (typeof model === "string") body.model = model;
        if (tokensIn !== undefined) body.tokens_in = Math.round(tokensIn);
        if (tokensOut !== undefined) body.tokens_out = Math.round(tokensOut);
        if (cost !== undefined) body.cost_usd = cost;
        if (latency !== undefined) body.latency_ms = Math.round(latency);
        if (typeof ok === "boolean") body.ok = ok;
        if (typeof statusCode === "number") body.status_code = statusCode;
        if (isObject(metadata)) body.metadata = metadata;
        const answer = await request(server, "POST", "/events/provider-calls", { body });
        if (!isObject(answer))
          throw new HexarchError(
            "hexarch: POST /events/provider-calls answered something that is not an object",
            "hexarch_bad_response",
            200,
          );
        msg.hexarchSpend = answer;
        const spent = cost === undefined ? "" : ` $${cost}`;
        this.status({ fill: "green", shape: "dot", text: `reported${spent}` });
        send(msg);
        done();
      })().catch((err) => fail(this, msg, done, err));
    });
  }
  RED.nodes.registerType("hexarch-report-spend", HexarchReportSpendNode);
};
