// @ts-check

/**
 * Calls to a hexarch-guardrails decision server (`hexarch-ctl serve api`) with the global
 * `fetch`, shared by the nodes. Every failure is a HexarchError with a `code`: the server's
 * own (`unknown_policy`, `forbidden`, `insufficient_scope`, …) when it answered one, else one
 * of the `hexarch_*` codes below. Nothing here ever turns a failure into an allow.
 */

/**
 * @typedef {object} ServerSettings
 * @property {string} url        base URL, e.g. `http://127.0.0.1:8099`
 * @property {string} [token]    bearer token (the static token or an `hxk_` API key)
 * @property {string} [actorId]  sent as `X-Actor-Id` (honoured for the static token only)
 * @property {number} timeoutMs  per request
 */

/**
 * @typedef {object} ErrorInfo
 * @property {string} message
 * @property {string} code
 * @property {number | null} status  the HTTP status, `null` when no answer came
 * @property {string} [requestId]    the server's request id, when it answered one
 */

class HexarchError extends Error {
  /**
   * @param {string} message
   * @param {string} code
   * @param {number | null} status
   * @param {string} [requestId]
   */
  constructor(message, code, status, requestId) {
    // `cause` reaches the catch node's msg.error (Node-RED copies `code`, `stack` and `cause`).
    super(message, { cause: requestId === undefined ? { status } : { status, requestId } });
    this.name = "HexarchError";
    /** @type {string} */
    this.code = code;
    /** @type {number | null} */
    this.status = status;
    /** @type {string | undefined} */
    this.requestId = requestId;
  }

  /** @returns {ErrorInfo} what the nodes put on `msg.error` */
  toJSON() {
    /** @type {ErrorInfo} */
    const info = { message: this.message, code: this.code, status: this.status };
    if (this.requestId !== undefined) info.requestId = this.requestId;
    return info;
  }
}

/** Codes for the status of an answer without a `code` of the server's. */
const STATUS_CODES = /** @type {Record<number, string>} */ ({
  401: "unauthenticated",
  403: "forbidden",
  404: "route_not_found",
  429: "rate_limited",
});

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A URL for a message: its user and password (`user:password@`) never shown.
 *
 * @param {string} url
 * @returns {string}
 */
function shownUrl(url) {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1");
}

/**
 * Sends one request and answers the parsed JSON body of a 2xx answer. A redirect is never
 * followed (its target is not the decision server, and would get the token and actor
 * headers): any 3xx is a `hexarch_bad_response`.
 *
 * @param {ServerSettings} server
 * @param {"GET" | "POST"} method
 * @param {string} path  starting with `/`
 * @param {{ body?: unknown, headers?: Record<string, string>, signal?: AbortSignal }} [options]
 * @returns {Promise<unknown>}
 * @throws {HexarchError}
 */
async function request(server, method, path, options = {}) {
  const base = server.url.replace(/\/+$/, "");
  if (!/^https?:\/\//i.test(base))
    throw new HexarchError(
      `hexarch: the server URL "${shownUrl(server.url)}" is not an http(s) URL`,
      "hexarch_not_configured",
      null,
    );
  if (shownUrl(base) !== base)
    throw new HexarchError(
      `hexarch: the server URL "${shownUrl(server.url)}" has a user and password in it (user:password@); put the secret in the config node's Token instead`,
      "hexarch_not_configured",
      null,
    );
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", ...options.headers };
  if (server.token) headers.authorization = `Bearer ${server.token}`;
  if (server.actorId) headers["x-actor-id"] = server.actorId;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const url = base + path;
  /** @type {Response} */
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      redirect: "manual",
      signal: options.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(server.timeoutMs)])
        : AbortSignal.timeout(server.timeoutMs),
    });
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    if (options.signal?.aborted)
      throw new HexarchError(`hexarch: ${method} ${path} was aborted`, "hexarch_aborted", null);
    if (name === "TimeoutError" || name === "AbortError")
      throw new HexarchError(
        `hexarch: ${method} ${path} got no answer within ${server.timeoutMs} ms`,
        "hexarch_timeout",
        null,
      );
    const cause = err instanceof Error && isObject(err.cause) ? err.cause : {};
    const why =
      typeof cause.code === "string"
        ? cause.code
        : err instanceof Error
          ? err.message
          : String(err);
    throw new HexarchError(
      `hexarch: cannot reach ${shownUrl(base)} (${shownUrl(why)})`,
      "hexarch_unreachable",
      null,
    );
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => {});
    throw new HexarchError(
      `hexarch: ${method} ${path} answered a redirect (${res.status}), which is never followed: set the server URL to the decision server itself`,
      "hexarch_bad_response",
      res.status,
    );
  }
  const text = await res.text().catch(() => "");
  /** @type {unknown} */
  let body;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const requestId =
    res.headers.get("x-request-id") ??
    (isObject(body) && typeof body.requestId === "string" ? body.requestId : undefined);
  if (!res.ok) {
    const code =
      isObject(body) && typeof body.code === "string"
        ? body.code
        : (STATUS_CODES[res.status] ?? (res.status >= 500 ? "server_error" : `http_${res.status}`));
    const said = isObject(body) && typeof body.message === "string" ? `: ${body.message}` : "";
    throw new HexarchError(
      `hexarch: ${method} ${path} answered ${res.status}${said}`,
      code,
      res.status,
      requestId ?? undefined,
    );
  }
  if (body === undefined)
    throw new HexarchError(
      `hexarch: ${method} ${path} answered ${res.status} without a JSON body`,
      "hexarch_bad_response",
      res.status,
      requestId ?? undefined,
    );
  return body;
}

/**
 * Any thrown value as a HexarchError (a bug in a node still ends on the catch path).
 *
 * @param {unknown} err
 * @returns {HexarchError}
 */
function asHexarchError(err) {
  if (err instanceof HexarchError) return err;
  return new HexarchError(
    err instanceof Error ? err.message : String(err),
    "hexarch_internal_error",
    null,
  );
}

module.exports = { HexarchError, request, asHexarchError, isObject, shownUrl };

/**
 * Ends a message on the catch path: `msg.error` gets `{ message, code, status }` (the catch
 * node moves it to `msg._error` and puts Node-RED's own, with the same `message` and `code`
 * and `cause.status`, in its place), the status dot turns grey, nothing is sent.
 *
 * @param {import("./node-red").Node<object>} node
 * @param {import("./node-red").NodeMessage} msg
 * @param {import("./node-red").DoneFn} done
 * @param {unknown} err
 */
function fail(node, msg, done, err) {
  const e = asHexarchError(err);
  msg.error = e.toJSON();
  node.status({
    fill: "grey",
    shape: "ring",
    text: e.status === null ? e.code : `${e.code} (${e.status})`,
  });
  done(e);
}

module.exports.fail = fail;

/**
 * The settings of the `hexarch-config` node `id`.
 *
 * @param {import("./node-red").NodeAPI} RED
 * @param {string | undefined} id
 * @returns {ServerSettings}
 * @throws {HexarchError} `hexarch_not_configured` when no such config node exists
 */
function settingsOf(RED, id) {
  const config = id ? RED.nodes.getNode(id) : null;
  if (config === null || !("settings" in config) || typeof config.settings !== "function")
    throw new HexarchError(
      "hexarch: no server configured (choose a hexarch-config node)",
      "hexarch_not_configured",
      null,
    );
  return /** @type {() => ServerSettings} */ (config.settings)();
}

module.exports.settingsOf = settingsOf;
