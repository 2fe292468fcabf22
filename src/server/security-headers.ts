/**
 * The security headers of every answer: `@fastify/helmet`'s defaults, learned once.
 *
 * The plugin builds helmet's middleware anew for every request (a dozen closures, the CSP
 * directives parsed and validated each time) and sets its headers from two hooks of its
 * own, one of them async: a visible share of a `/authorize` under load, and garbage. The
 * headers never change, so the server asks the plugin once, on a throwaway Fastify
 * instance, and sets them from its own hook.
 *
 * @module
 */

import helmet from "@fastify/helmet";
import Fastify from "fastify";
import { GuardrailError } from "../kernel/errors.ts";

/** Header names (lower case) and values. */
export type SecurityHeaders = Readonly<Record<string, string>>;

let learned: Promise<SecurityHeaders> | undefined;

/** What `@fastify/helmet` with its defaults sets on a request, before anything else does. */
async function learn(): Promise<SecurityHeaders> {
  const probe = Fastify({ logger: false });
  try {
    await probe.register(helmet, { global: true });
    let seen: Record<string, string> = {};
    // A route's own onRequest hook runs after the plugin's global ones.
    probe.get(
      "/",
      {
        onRequest: async (_request, reply) => {
          seen = {};
          for (const [name, value] of Object.entries(reply.raw.getHeaders()))
            if (value !== undefined)
              seen[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
        },
      },
      async () => "",
    );
    await probe.inject({ method: "GET", url: "/" });
    if (Object.keys(seen).length === 0)
      throw new GuardrailError(
        "@fastify/helmet set no headers: cannot learn the security headers",
        { code: "peer_dependency_unusable" },
      );
    return Object.freeze(seen);
  } finally {
    await probe.close();
  }
}

/**
 * `@fastify/helmet`'s default headers (`content-security-policy`, `strict-transport-security`,
 * `x-content-type-options`, …), learned from the plugin on first use and kept for the
 * process.
 */
export function securityHeaders(): Promise<SecurityHeaders> {
  learned ??= learn().catch((err: unknown) => {
    learned = undefined;
    throw err;
  });
  return learned;
}
