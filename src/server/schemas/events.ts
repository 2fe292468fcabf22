/**
 * Schema of `GET /events/stream`, the server's live events (Server-Sent Events).
 *
 * @module
 */

import { errors } from "./common.ts";

/** `GET /events/stream`. */
export const eventStreamSchema = {
  summary: "Live decisions and confirmation requests (Server-Sent Events)",
  description: [
    "A `text/event-stream` that stays open. Events:",
    "`event: decision` with data `{decisionId, timestamp, policyId, decision, action, reason, userId, functionName}` for each decision the server records;",
    "`event: confirmation` with data `{id, status, policyId?, requestedBy?}` when a request is created (`pending`), approved, denied or used (`consumed`);",
    "a `: ping` comment every 15 s. No event carries a token or a context.",
    "Read it with `fetch` (an `EventSource` cannot send the `Authorization` header).",
    "Needs `read` (every event) or `approve` (a key with `approve` but not `read` hears `confirmation` events only).",
    "A caller holding too many open streams (8 by default, per API key, static token or anonymous IP), or a server at its limit (256), gets 429 `too_many_streams` with `Retry-After`.",
    "`HEAD` answers the stream's headers without opening one.",
  ].join(" "),
  response: {
    200: {
      description: "the stream",
      content: { "text/event-stream": { schema: { type: "string" } } },
    },
    ...errors,
  },
} as const;
