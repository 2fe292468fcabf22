/**
 * `GET /events/stream`: the server's live events as Server-Sent Events.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { scopesGrant } from "../api-key-auth.ts";
import { HttpError } from "../errors.ts";
import type { EventHub, ServerEventType } from "../event-hub.ts";
import { eventStreamSchema } from "../schemas/index.ts";

/** Seconds a refused client is told to wait before it opens another stream. */
const RETRY_AFTER_S = 5;

/**
 * Who holds a stream, for the hub's per-principal cap: an API key by its id, the static
 * token as one principal, an anonymous caller by its IP address.
 */
export function streamPrincipal(request: FastifyRequest): string {
  const identity = request.identity;
  if (identity?.kind === "api-key" && identity.apiKey) return `key:${identity.apiKey.id}`;
  if (identity?.kind === "api-token") return "token";
  return `ip:${request.ip}`;
}

/**
 * The event types a caller hears: every type with the `read` scope (the static token and
 * an anonymous caller hold it), confirmation events only with `approve` alone (the route
 * admits either, see `acceptedScopes`).
 */
export function streamTypes(request: FastifyRequest): readonly ServerEventType[] | undefined {
  const identity = request.identity;
  if (identity?.kind !== "api-key") return undefined;
  const scopes = identity.apiKey?.scopes ?? [];
  if (scopesGrant(scopes, "read")) return undefined;
  return ["confirmation"];
}

/** Settles when `raw` can take more, or is gone, or `ended` settles. */
function drained(raw: ServerResponse, ended: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      raw.off("drain", done);
      raw.off("close", done);
      resolve();
    };
    raw.once("drain", done);
    raw.once("close", done);
    void ended.then(done);
  });
}

/**
 * Registers `GET /events/stream` and its `HEAD` (the headers of the stream, no body, no
 * subscription). Each stream is one subscription of `hub`: it ends when the client goes
 * away, when it falls too far behind (the client reconnects), or when the server closes
 * (`hub.close()`, in the server's `preClose`). A caller over the hub's caps
 * (`maxStreamsPerPrincipal`, `maxStreams`) is refused: 429 `too_many_streams`, with
 * `Retry-After`.
 */
export function eventRoutes(app: FastifyInstance, hub: EventHub): void {
  app.head("/events/stream", { schema: eventStreamSchema }, async (_request, reply) =>
    reply
      .header("content-type", "text/event-stream; charset=utf-8")
      .header("cache-control", "no-cache")
      .send(),
  );
  app.get(
    "/events/stream",
    { schema: eventStreamSchema, exposeHeadRoute: false },
    async (request, reply) => {
      const principal = streamPrincipal(request);
      const refused = hub.admits(principal);
      if (refused)
        throw new HttpError(
          429,
          "too_many_streams",
          refused.cap === "principal"
            ? `this caller already has ${refused.limit} event streams open (the most one caller may): close one first`
            : `the server already has ${refused.limit} event streams open (the most it serves): try again later`,
          { headers: { "retry-after": String(RETRY_AFTER_S) } },
        );
      const types = streamTypes(request);
      const sub = hub.subscribe({ principal, ...(types && { types }) });
      // The answer is written by hand from here on; the headers the hooks set (request id,
      // security headers, CORS) go with it.
      void reply.hijack();
      const raw = reply.raw;
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined && name !== "content-length") raw.setHeader(name, value);
      }
      raw.setHeader("content-type", "text/event-stream; charset=utf-8");
      raw.setHeader("cache-control", "no-cache");
      raw.setHeader("x-accel-buffering", "no");
      raw.writeHead(200);
      // A first comment sends the headers now: the client's fetch resolves at once.
      raw.write(": connected\n\n");
      const gone = () => sub.close();
      raw.on("close", gone);
      try {
        for (;;) {
          const text = await sub.next();
          if (text === undefined || raw.destroyed) break;
          if (!raw.write(text)) await drained(raw, sub.ended);
        }
      } catch (err) {
        request.log.warn({ err }, "an event stream failed");
      } finally {
        raw.off("close", gone);
        sub.close();
        // A client too slow to keep up is cut off; any other stream ends cleanly.
        if (sub.dropped || raw.writableNeedDrain) raw.destroy();
        else if (!raw.writableEnded) raw.end();
      }
    },
  );
}
