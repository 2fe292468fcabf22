// @ts-check

/**
 * `hexarch-authorize`: asks the decision server whether the message's operation may run
 * (`POST /authorize`) and routes it: output 1 allowed (allow, warn), output 2 denied
 * (block), output 3 needs confirmation (with `msg.confirmationToken`). Any failure goes to
 * the catch path; a message is never sent to output 1 without an allowing answer.
 */

const { HexarchError, request, fail, isObject, settingsOf } = require("./lib/client");

/** @typedef {import("./lib/node-red").NodeAPI} NodeAPI */
/** @typedef {import("./lib/node-red").NodeMessage} NodeMessage */
/**
 * @typedef {import("./lib/node-red").NodeDef & {
 *   server?: string,
 *   policyId?: string,
 *   contextType?: "msg" | "jsonata",
 *   context?: string,
 * }} AuthorizeDef
 */
/** @typedef {import("./lib/node-red").Node<object>} AuthorizeNode */

/**
 * @typedef {object} Decision  the parts of the server's answer the routing reads
 * @property {boolean} allowed
 * @property {string} action   allow | warn | block | require_confirmation
 * @property {string} [reason]
 * @property {string} [confirmationToken]
 */

/**
 * @param {unknown} body
 * @returns {body is Decision & Record<string, unknown>}
 */
function isDecision(body) {
  return (
    isObject(body) &&
    typeof body.allowed === "boolean" &&
    typeof body.action === "string" &&
    (body.confirmationToken === undefined || typeof body.confirmationToken === "string")
  );
}

/**
 * @param {NodeMessage} msg
 * @param {string} name
 * @returns {string | undefined}
 */
function stringProp(msg, name) {
  const v = msg[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** @param {NodeAPI} RED */
module.exports = function register(RED) {
  /**
   * @this {AuthorizeNode}
   * @param {AuthorizeDef} def
   */
  function HexarchAuthorizeNode(def) {
    RED.nodes.createNode(this, def);
    const policyId = (def.policyId ?? "").trim();
    const contextType = def.contextType === "jsonata" ? "jsonata" : "msg";
    const contextSource = (def.context ?? "").trim() || "payload";
    /** @type {import("./lib/node-red").JSONataExpression | undefined} */
    let expression;
    /** @type {HexarchError | undefined} */
    let setupError;
    if (contextType === "jsonata") {
      try {
        expression = RED.util.prepareJSONataExpression(contextSource, this);
      } catch (err) {
        setupError = new HexarchError(
          `hexarch: the context expression does not parse: ${err instanceof Error ? err.message : String(err)}`,
          "hexarch_invalid_config",
          null,
        );
        this.status({ fill: "grey", shape: "ring", text: "invalid context expression" });
      }
    }

    /**
     * @param {NodeMessage} msg
     * @returns {Promise<unknown>}
     */
    function contextOf(msg) {
      if (expression === undefined)
        return Promise.resolve(RED.util.getMessageProperty(msg, contextSource));
      const prepared = expression;
      return new Promise((resolve, reject) =>
        RED.util.evaluateJSONataExpression(prepared, msg, (err, value) =>
          err ? reject(err) : resolve(value),
        ),
      );
    }

    this.on("input", (msg, send, done) => {
      (async () => {
        if (setupError) throw setupError;
        const server = settingsOf(RED, def.server);
        const context = await contextOf(msg).catch((err) => {
          throw new HexarchError(
            `hexarch: the context expression failed: ${err instanceof Error ? err.message : String(err)}`,
            "hexarch_invalid_context",
            null,
          );
        });
        if (context !== undefined && !isObject(context))
          throw new HexarchError(
            `hexarch: the context (${contextType === "msg" ? `msg.${contextSource}` : "the expression"}) must be an object, not ${Array.isArray(context) ? "an array" : context === null ? "null" : typeof context}`,
            "hexarch_invalid_context",
            null,
          );
        const id = policyId || stringProp(msg, "policyId") || stringProp(msg, "policy_id");
        // Without a policy id: the Python server's shape, decided by the API-defined policies.
        const body = id
          ? { policyId: id, context: context ?? {} }
          : {
              action: stringProp(msg, "action") ?? "request",
              ...(isObject(msg.resource) ? { resource: msg.resource } : {}),
              context: context ?? {},
            };
        const token = stringProp(msg, "confirmationToken");
        const answer = await request(server, "POST", "/authorize", {
          body,
          ...(token && id ? { headers: { "x-confirmation-token": token } } : {}),
        });
        if (!isDecision(answer))
          throw new HexarchError(
            "hexarch: POST /authorize answered something that is not a decision",
            "hexarch_bad_response",
            200,
          );
        msg.hexarch = answer;
        const { action, allowed } = answer;
        if (allowed && (action === "allow" || action === "warn")) {
          delete msg.confirmationToken; // used up (or never needed)
          this.status({
            fill: "green",
            shape: action === "warn" ? "ring" : "dot",
            text: action === "warn" ? "allowed (warn)" : "allowed",
          });
          send([msg, null, null]);
        } else if (!allowed && action === "require_confirmation" && answer.confirmationToken) {
          msg.confirmationToken = answer.confirmationToken;
          this.status({ fill: "yellow", shape: "dot", text: "needs confirmation" });
          send([null, null, msg]);
        } else if (!allowed) {
          // block, or a confirmation token that was refused (no new token then)
          if (action !== "require_confirmation") delete msg.confirmationToken;
          this.status({ fill: "red", shape: "dot", text: "denied" });
          send([null, msg, null]);
        } else {
          throw new HexarchError(
            `hexarch: POST /authorize answered allowed with the unknown action "${action}"`,
            "hexarch_bad_response",
            200,
          );
        }
        done();
      })().catch((err) => fail(this, msg, done, err));
    });
  }
  RED.nodes.registerType("hexarch-authorize", HexarchAuthorizeNode);
};
