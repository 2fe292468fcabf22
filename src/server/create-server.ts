/**
 * `createServer` as the server's entry exports it: it checks that Fastify and its plugins
 * are installed, naming every missing one in one error, and only then loads the server
 * (`./app.ts`), whose static imports of them would otherwise fail one package at a time.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { requirePeers } from "../util/optional-peer.ts";
import type { ServerOptions } from "./options.ts";
import { serverPeers } from "./peers.ts";

/**
 * Builds the decision server: routes, validation, authentication, rate limits, CORS,
 * security headers and structured logs with a request id in every line. It does not
 * listen (`startServer` does; tests call `inject`), and it does not own the Guardian, the
 * audit log or the stores: whoever made them closes them.
 *
 * Needs the optional peers `fastify`, `@fastify/cors`, `@fastify/helmet`,
 * `@fastify/rate-limit`, `@fastify/swagger` and `prom-client` (and `@fastify/swagger-ui`
 * with `docs`); they are loaded on the first call.
 *
 * @throws MissingPeerDependencyError naming every one of those packages that is not
 *   installed, with the `npm install` command for them.
 * @throws ServerConfigError when no API token is configured and `allowAnon` is not set,
 *   or an option is out of range.
 *
 * @example
 * ```ts
 * import { createServer } from "hexarch-guardrails/server";
 * const app = await createServer({ guardian, auditLogger, apiToken: process.env.HEXARCH_API_TOKEN });
 * const res = await app.inject({ method: "GET", url: "/health" });
 * ```
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  requirePeers(
    "hexarch-guardrails/server",
    // `options` is checked by the server itself; a missing object is no reason to crash here.
    serverPeers({ docs: (options as ServerOptions | undefined)?.docs === true }),
  );
  const app = await import("./app.ts");
  return app.createServer(options);
}
