// @ts-check

/**
 * `hexarch-config`: where the decision server is and how to call it. The token lives in the
 * node's credentials (kept encrypted in flows_cred.json), never in the flow JSON.
 */

/** @typedef {import("./lib/node-red").NodeAPI} NodeAPI */
/** @typedef {import("./lib/node-red").NodeDef & { url?: string, actorId?: string, timeout?: string | number }} ConfigDef */
/** @typedef {{ token: string }} ConfigCredentials */
/**
 * @typedef {import("./lib/node-red").Node<ConfigCredentials> & {
 *   settings(): import("./lib/client").ServerSettings
 * }} ConfigNode
 */

const DEFAULT_TIMEOUT_MS = 10_000;

/** @param {NodeAPI} RED */
module.exports = function register(RED) {
  /**
   * @this {ConfigNode}
   * @param {ConfigDef} def
   */
  function HexarchConfigNode(def) {
    RED.nodes.createNode(this, def);
    const url = (def.url ?? "").trim();
    const actorId = (def.actorId ?? "").trim();
    const timeout = Number(def.timeout);
    const timeoutMs = Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_TIMEOUT_MS;
    this.settings = () => {
      const token = this.credentials.token;
      return {
        url,
        timeoutMs,
        ...(token ? { token } : {}),
        ...(actorId ? { actorId } : {}),
      };
    };
  }
  RED.nodes.registerType("hexarch-config", HexarchConfigNode, {
    credentials: { token: { type: "password" } },
  });
};
