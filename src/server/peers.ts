/**
 * The optional peer dependencies the decision server loads: what `hexarch-ctl serve api`
 * checks before it imports the server, so that every missing one is named in one line.
 * This module imports none of them.
 *
 * @module
 */

/**
 * Packages the server always loads (its modules import them statically): Fastify, its
 * CORS, security-header, rate-limit and OpenAPI plugins, and `prom-client` for `/metrics`.
 * A test keeps this list equal to the server's imports.
 */
export const SERVER_PEERS: readonly string[] = [
  "fastify",
  "@fastify/cors",
  "@fastify/helmet",
  "@fastify/rate-limit",
  "@fastify/swagger",
  "prom-client",
];

/** Loaded only with the docs on (`docs: true`, `--docs`): the Swagger UI at `/docs`. */
export const DOCS_PEER = "@fastify/swagger-ui";

/**
 * The packages a server with these options needs, in install order.
 *
 * @example
 * ```ts
 * serverPeers({ docs: true }); // [...SERVER_PEERS, "@fastify/swagger-ui"]
 * ```
 */
export function serverPeers(options: { readonly docs?: boolean } = {}): string[] {
  return [...SERVER_PEERS, ...(options.docs === true ? [DOCS_PEER] : [])];
}
