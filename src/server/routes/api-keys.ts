/**
 * `/api-keys`: creating, listing and revoking API keys. Registered only when the server
 * enables key administration; reachable only with the static token (see `requiredScope`).
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import type { ApiKeyStore } from "../../audit/api-keys/types.ts";
import type { ApiKeyAuth } from "../api-key-auth.ts";
import { backend, HttpError } from "../errors.ts";
import {
  type ApiKeyBody,
  apiKeyCreateSchema,
  apiKeyListSchema,
  apiKeyRevokeSchema,
} from "../schemas.ts";

const STORE = "API key store";

/** Registers `POST /api-keys`, `GET /api-keys`, `DELETE /api-keys/:id`, `POST /api-keys/:id/revoke`. */
export function apiKeyRoutes(app: FastifyInstance, store: ApiKeyStore, auth: ApiKeyAuth): void {
  app.post<{ Body: ApiKeyBody }>(
    "/api-keys",
    { schema: apiKeyCreateSchema },
    async (request, reply) => {
      const { apiKey, key } = await backend(STORE, () =>
        store.create({
          name: request.body.name,
          scopes: request.body.scopes,
          ...(request.body.subject && { subject: request.body.subject }),
        }),
      );
      request.log.info(
        { keyId: apiKey.id, scopes: apiKey.scopes, bound: apiKey.subject !== undefined },
        "API key created",
      );
      return reply.code(201).send({ ...apiKey, key });
    },
  );
  app.get("/api-keys", { schema: apiKeyListSchema }, async () =>
    backend(STORE, () => store.list()),
  );
  const revoke = async (id: string) => {
    const apiKey = await backend(STORE, () => store.revoke(id));
    if (!apiKey) throw new HttpError(404, "unknown_api_key", `no API key has the id '${id}'`);
    auth.forget(id);
    return apiKey;
  };
  app.delete<{ Params: { id: string } }>(
    "/api-keys/:id",
    { schema: apiKeyRevokeSchema },
    async (request) => revoke(request.params.id),
  );
  app.post<{ Params: { id: string } }>(
    "/api-keys/:id/revoke",
    {
      schema: apiKeyRevokeSchema,
      // No body is `{}`; a body is ignored.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => revoke(request.params.id),
  );
}
