/**
 * The decision server's logging (pino, through Fastify: one line per answered request,
 * URLs with confirmation secrets cut) and the Fastify options whose spelling depends on
 * the Fastify 5 release.
 *
 * @module
 */

import type { FastifyRequest } from "fastify";
import * as fastifyModule from "fastify";
import type { ServerLoggerOptions } from "./options.ts";
import { redactUrl } from "./redact-url.ts";

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
