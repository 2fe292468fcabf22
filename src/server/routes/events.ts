/**
 * `GET /events/stream`: the server's live events as Server-Sent Events.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { EventHub } from "../event-hub.ts";
import { eventStreamSchema } from "../schemas/index.ts";

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
 * Registers `GET /events/stream`. Each stream is one subscription of `hub`: it ends when
 * the client goes away, when it falls too far behind (the client reconnects), or when the
 * server closes (`hub.close()`, in the server's `preClose`).
 */
export function eventRoutes(app: FastifyInstance, hub: EventHub): void {
  app.get("/events/stream", { schema: eventStreamSchema }, async (request, reply) => {
    const sub = hub.subscribe();
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
  });
}
