/**
 * Signed checkpoints of the audit log: `GET /audit-logs/checkpoint` (signed, not stored),
 * `POST /audit-checkpoints`, `GET /audit-checkpoints`, `GET /audit-checkpoints/latest`,
 * and the verification `GET /audit-logs/verify` answers with (chain and checkpoints).
 *
 * @module
 */

import { existsSync } from "node:fs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  appendCheckpointFile,
  readCheckpointFile,
} from "../../audit/checkpoints/checkpoint-file.ts";
import {
  allCheckpoints,
  type TakeCheckpointResult,
  takeCheckpoint,
  verifyWithCheckpoints,
} from "../../audit/checkpoints/checkpoints.ts";
import type { CheckpointSigner } from "../../audit/checkpoints/signing.ts";
import type {
  AuditCheckpoint,
  AuditCheckpointStore,
  CheckpointVerifyResult,
} from "../../audit/checkpoints/types.ts";
import type { VerifyResult } from "../../audit/hash-chain.ts";
import { backend, HttpError } from "../errors.ts";
import {
  auditCheckpointCreateSchema,
  auditCheckpointLatestSchema,
  auditCheckpointListSchema,
  auditCheckpointNowSchema,
  type CheckpointCreateBody,
  type CheckpointListQuery,
} from "../schemas/index.ts";
import { auditLogOf, type ServerContext } from "./context.ts";

const LOG = "audit log";
const STORE = "audit checkpoint store";
const FILE = "audit checkpoint file";

/** The signer, or a 404 saying checkpoints need a key. */
function signerOf(ctx: ServerContext): {
  readonly signer: CheckpointSigner;
  readonly store: AuditCheckpointStore | undefined;
  readonly file?: string | undefined;
} {
  if (!ctx.checkpoints)
    throw new HttpError(
      404,
      "checkpoints_disabled",
      "audit checkpoints need a signing key: start the server with HEXARCH_AUDIT_HMAC_KEY (at least 32 bytes)",
    );
  return ctx.checkpoints;
}

/**
 * Every checkpoint this server keeps: its store's and its file's (by id, once each), and
 * the file's lines that are not checkpoints (an edited or torn file).
 */
async function keptCheckpoints(ctx: ServerContext): Promise<{
  readonly checkpoints: AuditCheckpoint[];
  readonly badLines: readonly { readonly line: number; readonly message: string }[];
}> {
  const { store, file } = signerOf(ctx);
  const stored = store ? await backend(STORE, () => allCheckpoints(store)) : [];
  if (file === undefined) return { checkpoints: stored, badLines: [] };
  const ids = new Set(stored.map((c) => c.id));
  // A file not yet written holds none; other read errors are the file's failure (503).
  const shipped = await backend(FILE, async () =>
    existsSync(file) ? await readCheckpointFile(file) : { checkpoints: [], badLines: [] },
  );
  return {
    checkpoints: [...stored, ...shipped.checkpoints.filter((c) => !ids.has(c.id) && ids.add(c.id))],
    badLines: shipped.badLines,
  };
}

/** The checkpoint store, or a 404 saying this server keeps none. */
function storeOf(ctx: ServerContext): {
  readonly signer: CheckpointSigner;
  readonly store: AuditCheckpointStore;
} {
  const { signer, store } = signerOf(ctx);
  if (!store)
    throw new HttpError(
      404,
      "checkpoints_disabled",
      "this server signs checkpoints but keeps no checkpoint store (ServerOptions.auditCheckpoints.store)",
    );
  return { signer, store };
}

/** What `GET /audit-logs/verify` answers. */
export interface AuditVerifyReply extends VerifyResult {
  /** The stored checkpoints' check; only when the server has a checkpoint key. */
  readonly checkpoints?: CheckpointVerifyResult;
}

/**
 * Verifies the log: the chain walk (every record's hash recomputed from its stored
 * columns) and, with a checkpoint key, every stored checkpoint. `ok` is false when either
 * fails.
 */
export async function verifyAuditLog(ctx: ServerContext): Promise<AuditVerifyReply> {
  const logger = auditLogOf(ctx);
  if (!ctx.checkpoints) return backend(LOG, () => logger.verify());
  const { signer } = ctx.checkpoints;
  // Listed before the walk, so the walk ends at a head no older than any of them.
  const { checkpoints: stored, badLines } = await keptCheckpoints(ctx);
  const v = await backend(LOG, () => verifyWithCheckpoints(logger, signer, stored));
  const [bad] = badLines;
  // A garbled line may have been a checkpoint: it fails the check, never drops out of it.
  const checkpoints: CheckpointVerifyResult =
    bad === undefined || !v.checkpoints.ok
      ? v.checkpoints
      : {
          ...v.checkpoints,
          ok: false,
          problem: "bad_line",
          message: `line ${bad.line} of the checkpoint file is not a checkpoint (${bad.message})${badLines.length > 1 ? `, and ${badLines.length - 1} more` : ""}: the file was edited or torn`,
        };
  return { ...v.chain, ok: v.chain.ok && checkpoints.ok, checkpoints };
}

/** A checkpoint of the head, or a 409 when the log does not verify. */
async function take(
  ctx: ServerContext,
  request: FastifyRequest,
  signer: CheckpointSigner,
): Promise<AuditCheckpoint> {
  const logger = auditLogOf(ctx);
  // The authenticated caller: an API key is `api-key:<id>` whatever headers it sends.
  const actor = request.identity?.actorId ?? "anonymous";
  const { checkpoints: stored } = await keptCheckpoints(ctx);
  const taken: TakeCheckpointResult = await backend(LOG, () =>
    takeCheckpoint(logger, signer, { actor, checkpoints: stored }),
  );
  if (taken.ok) return taken.checkpoint;
  const { chain, checkpoints } = taken.verification;
  if (!chain.ok)
    throw new HttpError(
      409,
      "chain_broken",
      `the audit log does not verify (first bad record: ${chain.firstBadDecisionId}); no checkpoint is signed over a broken chain`,
    );
  throw new HttpError(
    409,
    "checkpoint_mismatch",
    `stored checkpoint ${checkpoints.firstBadCheckpointId} fails (${checkpoints.problem}); no new checkpoint is signed until that is resolved`,
  );
}

/** Registers the checkpoint routes. */
export function checkpointRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/audit-logs/checkpoint", { schema: auditCheckpointNowSchema }, async (request) => {
    const { signer } = signerOf(ctx);
    return take(ctx, request, signer);
  });

  app.post<{ Body: CheckpointCreateBody }>(
    "/audit-checkpoints",
    {
      schema: auditCheckpointCreateSchema,
      // No body is `{}` (the Python server's body is `{ chain_id }`).
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const { signer, store, file } = signerOf(ctx);
      if (!store && file === undefined) storeOf(ctx); // 404: kept nowhere
      const checkpoint = await take(ctx, request, signer);
      // Out of the database writers' reach first: a checkpoint only in the database can be
      // deleted with the records it covers.
      if (file !== undefined) await backend(FILE, () => appendCheckpointFile(file, checkpoint));
      if (store) await backend(STORE, () => store.add(checkpoint));
      request.log.info(
        { checkpointId: checkpoint.id, seq: checkpoint.seq, keyId: checkpoint.keyId },
        "audit checkpoint stored",
      );
      return reply.code(201).send(checkpoint);
    },
  );

  app.get<{ Querystring: CheckpointListQuery }>(
    "/audit-checkpoints",
    { schema: auditCheckpointListSchema },
    async (request) => {
      const { store } = storeOf(ctx);
      const { limit, offset } = request.query;
      const checkpoints = await backend(STORE, () => store.list({ limit, offset }));
      return {
        checkpoints,
        limit,
        offset,
        nextOffset: checkpoints.length === limit ? offset + limit : null,
      };
    },
  );

  app.get("/audit-checkpoints/latest", { schema: auditCheckpointLatestSchema }, async () => {
    const { store } = storeOf(ctx);
    const latest = await backend(STORE, () => store.latest());
    if (!latest) throw new HttpError(404, "no_checkpoint", "no checkpoint has been stored yet");
    return latest;
  });
}
