/**
 * The decision server's logging (pino, through Fastify: one line per answered request,
 * URLs with confirmation secrets cut) and the Fastify options whose spelling depends on
 * the Fastify 5 release.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import { BlockList, isIP, type Socket } from "node:net";
import type { FastifyRequest } from "fastify";
import * as fastifyModule from "fastify";
import { errorBody, ServerConfigError } from "./errors.ts";
import type { ServerLoggerOptions, TrustProxy } from "./options.ts";

/**
 * Anything shaped like a token (an id, a dot, then 16 or more token characters: stored and
 * signed confirmation tokens, JWTs), wherever it stands in a URL and however the path
 * around it is spelt (`/%61pprovals/…`, `//approvals/…` reach a handler or a 404 alike).
 */
const TOKEN_SHAPED = /([A-Za-z0-9_%-]{0,64})(?:\.|%2[Ee])[A-Za-z0-9_%.=-]{16,}/g;

/**
 * A request URL for the log, with confirmation tokens cut to their id: the segment after
 * `/approvals/` always, and any token-shaped text anywhere (an encoded or misspelt path
 * must not put a token in the log).
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^(\/+approvals\/)([^/?#]+)/i, (_m, prefix: string, token: string) => {
      const dot = token.indexOf(".");
      return `${prefix}${dot > 0 && dot <= 64 ? token.slice(0, dot) : ""}.***`;
    })
    .replace(TOKEN_SHAPED, (_m, id: string) => `${id}.***`);
}

/** Signed confirmation tokens (JWTs) in paths are longer than Fastify's default of 100. */
const MAX_PARAM_LENGTH = 4096;

/**
 * Options whose spelling changed within Fastify 5: newer releases take `logController` and
 * `routerOptions` (and warn about the old top-level options), older ones only the latter.
 * With a `LogController`, a request is logged in one line at `info` when answered (its
 * method, URL, client address, status and time), and its arrival only at `debug`: the
 * second line per request cost the server about a tenth of its throughput at `info`.
 */
export function versionedOptions() {
  const LogController = (fastifyModule as { LogController?: typeof fastifyModule.LogController })
    .LogController;
  if (!LogController) return { requestIdLogLabel: "requestId", maxParamLength: MAX_PARAM_LENGTH };
  type Request = Parameters<fastifyModule.LogController["incomingRequest"]>[0];
  type Reply = Parameters<fastifyModule.LogController["incomingRequest"]>[1];
  class OneLinePerRequest extends LogController {
    override incomingRequest(request: Request): void {
      request.log.debug({ req: request }, "incoming request");
    }
    override requestCompleted(error: Error | null | undefined, request: Request, reply: Reply) {
      if (error) super.requestCompleted(error, request, reply);
      else
        reply.log.info(
          { req: request, res: reply, responseTime: reply.elapsedTime },
          "request completed",
        );
    }
  }
  return {
    logController: new OneLinePerRequest({ requestIdLogLabel: "requestId" }),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  };
}

/** Fastify's `logger` option for the server's {@link ServerLoggerOptions} (`false`: none). */
export function loggerOptions(logger: false | ServerLoggerOptions | undefined) {
  if (logger === false) return false;
  return {
    level: logger?.level ?? "info",
    ...(logger?.stream !== undefined && { stream: logger.stream }),
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        remoteAddress: req.ip,
      }),
    },
  };
}

/** Most proxy hops `trustProxy` may name: more is a mistake, not a deployment. */
export const MAX_TRUSTED_HOPS = 16;

/** Named ranges `trustProxy` accepts beside addresses (those of Express's `trust proxy`). */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.1/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

const badEntry = (entry: string) =>
  new ServerConfigError(
    `trust proxy: '${entry}' is not an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`,
  );

/** The addresses and ranges of a `trustProxy` list, as a `BlockList` (IPv4-mapped IPv6 included). */
function trustedRanges(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const named = NAMED_RANGES[entry];
    for (const item of named ?? [entry]) {
      const slash = item.indexOf("/");
      const address = slash === -1 ? item : item.slice(0, slash);
      const family = isIP(address);
      if (family === 0) throw badEntry(entry);
      const type = family === 4 ? "ipv4" : "ipv6";
      if (slash === -1) {
        list.addAddress(address, type);
        continue;
      }
      const bitsText = item.slice(slash + 1);
      const bits = Number(bitsText);
      if (!/^\d{1,3}$/.test(bitsText) || bits < 1 || bits > (family === 4 ? 32 : 128))
        throw badEntry(entry);
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

/**
 * Fastify's `trustProxy` for the server's option: which `X-Forwarded-For` entries to
 * believe. The client is the right-most address not trusted (the one the outermost
 * trusted proxy saw), never an entry a client wrote further left.
 *
 * - `false` / absent: none; the client is the socket's peer.
 * - a hop count `n`: the socket's peer and the `n - 1` entries right of the rest are
 *   proxies. Safe only when no client can reach the server except through them: a
 *   direct caller could otherwise add entries of its own.
 * - addresses, CIDR ranges or `loopback`/`linklocal`/`uniquelocal` (a list, or one string
 *   with commas): the hops from these are believed, whatever their number.
 *
 * @throws ServerConfigError for `true` (every entry believed: any client picks its own
 *   address and rate-limit bucket), a hop count out of 1–{@link MAX_TRUSTED_HOPS}, or an
 *   entry that is no address or range.
 */
export function trustProxyOption(
  value: TrustProxy | boolean | undefined,
): false | ((address: string, hop: number) => boolean) {
  if (value === undefined || value === false) return false;
  if (value === true)
    throw new ServerConfigError(
      "trust proxy: 'true' would believe every X-Forwarded-For entry, so any client could pick its own address (and rate-limit bucket): give the number of proxies in front (1 for one load balancer) or their addresses (10.0.0.0/8,127.0.0.1)",
    );
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 1 || value > MAX_TRUSTED_HOPS)
      throw new ServerConfigError(
        `trust proxy: the hop count must be a whole number from 1 to ${MAX_TRUSTED_HOPS}, got ${value}`,
      );
    return (_address, hop) => hop < value;
  }
  const entries = (typeof value === "string" ? value.split(",") : [...value])
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 0)
    throw new ServerConfigError("trust proxy: the list of proxy addresses is empty");
  const list = trustedRanges(entries);
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
  };
}

/** What a request Node's parser refused gets: status, code and message, by parser error. */
function clientErrorOf(code: string | undefined): readonly [number, string, string] {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "request_timeout", "the request was not received in time"];
    case "HPE_HEADER_OVERFLOW":
      return [431, "headers_too_large", "the request's headers are too large"];
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return [400, "bad_content_length", "Content-Length must be one whole number of bytes"];
    case "HPE_INVALID_TRANSFER_ENCODING":
      return [
        400,
        "bad_transfer_encoding",
        "Transfer-Encoding must end with chunked and not come with Content-Length",
      ];
    case "HPE_INVALID_EOF_STATE":
      return [
        400,
        "bad_content_length",
        "the connection ended before the body Content-Length announced",
      ];
    default:
      return [
        400,
        "bad_request",
        "the request is not valid HTTP/1.1 (a Content-Length shorter than the body leaves bytes that are no request)",
      ];
  }
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses before Fastify sees
 * them (a non-numeric, duplicate or short `Content-Length`, a body cut off, headers too
 * large, a timeout) get the server's JSON error shape, with a request id, instead of
 * Fastify's default body; then the connection is closed, as Node does.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset or destroyed connection has no one to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const [status, code, message] = clientErrorOf(err.code);
    const requestId = randomUUID();
    const body = JSON.stringify(errorBody(status, code, message, requestId));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        "Cache-Control: no-store\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        "Connection: close\r\n\r\n" +
        body,
    );
  }
  socket.destroy(err);
}
