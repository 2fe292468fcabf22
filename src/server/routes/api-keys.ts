/**
 * `/api-keys`: creating, listing and revoking API keys. Registered only when the server
 * enables key administration; reachable only with the static token (see `requiredScope`).
 * Creation also takes the Python server's body (`description`, `tenant_id`, `org_id`,
 * `scopes` left out or `null`) and answers its `token`/`token_prefix` too.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import type { ApiKeyStore, ApiKeySubject } from "../../api-keys/types.ts";
import type { ApiKeyAuth } from "../api-key-auth.ts";
import { backend, HttpError } from "../errors.ts";
import { DEFAULT_API_KEY_SCOPES } from "../schemas/api-keys.ts";
import {
  type ApiKeyBody,
  apiKeyCreateSchema,
  apiKeyListSchema,
  apiKeyRevokeSchema,
} from "../schemas/index.ts";

const STORE = "API key store";

const invalid = (field: string, message: string) =>
  new HttpError(400, "invalid_body", message, { extras: { field } });

/**
 * The subject a create body binds: `subject`, with the Python `tenant_id` as its tenant.
 * An `org_id` is refused: no organisation can be bound here, and a key meant for one
 * organisation must not come out valid for all of them.
 */
function subjectOf(body: ApiKeyBody): ApiKeySubject | undefined {
  if (body.org_id != null)
    throw invalid(
      "body.org_id",
      "body.org_id is not supported: this server binds a key to a user or tenant (subject.userId, subject.tenantId or tenant_id), not an organisation; leave org_id out or null",
    );
  const tenant = body.tenant_id ?? undefined;
  if (
    tenant !== undefined &&
    body.subject?.tenantId !== undefined &&
    body.subject.tenantId !== tenant
  )
    throw invalid(
      "body.tenant_id",
      `body.tenant_id ('${tenant}') and body.subject.tenantId ('${body.subject.tenantId}') name different tenants: send one of them`,
    );
  const subject = { ...body.subject, ...(tenant !== undefined && { tenantId: tenant }) };
  return Object.keys(subject).length > 0 ? subject : undefined;
}

/** Registers `POST /api-keys`, `GET /api-keys`, `DELETE /api-keys/:id`, `POST /api-keys/:id/revoke`. */
export function apiKeyRoutes(app: FastifyInstance, store: ApiKeyStore, auth: ApiKeyAuth): void {
  app.post<{ Body: ApiKeyBody }>(
    "/api-keys",
    { schema: apiKeyCreateSchema },
    async (request, reply) => {
      const subject = subjectOf(request.body);
      const scopes = request.body.scopes ?? DEFAULT_API_KEY_SCOPES;
      const { apiKey, key } = await backend(STORE, () =>
        store.create({ name: request.body.name, scopes, ...(subject && { subject }) }),
      );
      request.log.info(
        { keyId: apiKey.id, scopes: apiKey.scopes, bound: apiKey.subject !== undefined },
        "API key created",
      );
      // `token` and `token_prefix`: the Python server's names, for its bootstrap clients.
      return reply.code(201).send({ ...apiKey, key, token: key, token_prefix: apiKey.id });
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
