/**
 * The API docs: who may read them, and the Swagger UI over the OpenAPI document.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { ServerConfigError } from "./errors.ts";

/** Who may read the docs: the OpenAPI document and the UI over it share one rule. */
export const DOCS_ACCESS = { public: true } as const;

/**
 * The Swagger UI over the OpenAPI document, at `/docs`, reachable as the document is.
 * `@fastify/swagger-ui` is an optional peer dependency, loaded only when docs are on.
 */
export async function docsUi(app: FastifyInstance): Promise<void> {
  let ui: typeof import("@fastify/swagger-ui").default;
  try {
    ui = (await import("@fastify/swagger-ui")).default;
  } catch (err) {
    throw new ServerConfigError(
      "the docs (--docs, HEXARCH_API_DOCS) need the '@fastify/swagger-ui' package: npm install @fastify/swagger-ui",
      { cause: err },
    );
  }
  await app.register(async (scope) => {
    // Every route the plugin adds (the page, its assets, /docs/json) follows the document's rule.
    scope.addHook("onRoute", (route) => {
      route.config = { ...route.config, ...DOCS_ACCESS };
    });
    await scope.register(ui, {
      routePrefix: "/docs",
      uiConfig: { deepLinking: true, persistAuthorization: false },
      // The page is often opened over plain http on localhost, where upgrading its assets
      // to https would leave it blank.
      transformStaticCSP: (header) =>
        header
          .split(";")
          .filter((d) => d.trim() !== "upgrade-insecure-requests")
          .join(";"),
    });
  });
}
