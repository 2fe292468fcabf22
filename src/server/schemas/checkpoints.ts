/**
 * Schemas of the checkpoint routes: `/audit-logs/checkpoint` and `/audit-checkpoints`, and
 * the checkpoint part of `/audit-logs/verify`'s answer.
 *
 * @module
 */

import { errors, limit } from "./common.ts";

/** `chain_id`: the Python server's chain name; this server has one chain, `global`. */
const chainId = {
  type: "string",
  enum: ["global"],
  description: "the Python server's chain name; the log has one chain, `global`",
} as const;

/** One signed checkpoint. */
const checkpointSchema = {
  type: "object",
  required: ["id", "seq", "headHash", "records", "createdAt", "actor", "keyId", "signature"],
  properties: {
    id: { type: "string", description: "UUIDv7" },
    seq: { type: "integer", description: "the position of the chain's head" },
    headHash: {
      type: "string",
      description: "the hash of the entry at `seq` (the Python `last_entry_hash`)",
    },
    records: {
      type: "integer",
      description: "entries checked from the chain's start to `seq`",
    },
    createdAt: { type: "string", format: "date-time" },
    actor: { type: "string", description: "the authenticated caller who asked for it" },
    keyId: { type: "string", description: "the id of the signing key" },
    signature: {
      type: "string",
      description: "hex HMAC-SHA256 of the other fields (docs/server.md says how to check it)",
    },
  },
} as const;

/** The query of routes that name the chain. */
const chainQuery = {
  type: "object",
  additionalProperties: false,
  properties: { chain_id: chainId },
} as const;

/** The body of `POST /audit-checkpoints` (optional; the Python server's `{ chain_id }`). */
export interface CheckpointCreateBody {
  readonly chain_id?: "global";
}

/** The query of `GET /audit-checkpoints`. */
export interface CheckpointListQuery {
  readonly limit: number;
  readonly offset: number;
  readonly chain_id?: "global";
}

/** `GET /audit-logs/checkpoint`: a signed checkpoint of the head, not stored. */
export const auditCheckpointNowSchema = {
  summary: "Verify the chain and sign a checkpoint of its head (not stored)",
  querystring: chainQuery,
  response: { 200: checkpointSchema, ...errors },
} as const;

/** `POST /audit-checkpoints`: takes and stores one. */
export const auditCheckpointCreateSchema = {
  summary: "Verify the chain, sign a checkpoint of its head and store it",
  body: {
    type: "object",
    additionalProperties: false,
    properties: { chain_id: chainId },
  },
  response: { 201: checkpointSchema, ...errors },
} as const;

/** `GET /audit-checkpoints`: stored checkpoints, newest first. */
export const auditCheckpointListSchema = {
  summary: "Stored checkpoints, newest first",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      limit: limit(1000, 50),
      offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
      chain_id: chainId,
    },
  },
  response: {
    200: {
      type: "object",
      required: ["checkpoints", "limit", "offset", "nextOffset"],
      properties: {
        checkpoints: { type: "array", items: checkpointSchema },
        limit: { type: "integer" },
        offset: { type: "integer" },
        nextOffset: {
          type: ["integer", "null"],
          description: "the offset of the next page, or null on the last one",
        },
      },
    },
    ...errors,
  },
} as const;

/** `GET /audit-checkpoints/latest`: the newest stored checkpoint (404 `no_checkpoint`). */
export const auditCheckpointLatestSchema = {
  summary: "The newest stored checkpoint",
  querystring: chainQuery,
  response: { 200: checkpointSchema, ...errors },
} as const;

/** The `checkpoints` part of `GET /audit-logs/verify`'s answer. */
export const checkpointVerifySchema = {
  type: "object",
  required: ["ok", "checked", "skipped"],
  description:
    "stored checkpoints checked against the chain (present when the server has a checkpoint key)",
  properties: {
    ok: { type: "boolean" },
    checked: { type: "integer", description: "checkpoints whose signature and place were checked" },
    skipped: {
      type: "integer",
      description: "checkpoints under another key id, or past a broken record",
    },
    pruned: {
      type: "integer",
      description: "of those checked, checkpoints at positions a chained prune record removed",
    },
    firstBadCheckpointId: { type: "string" },
    problem: {
      type: "string",
      enum: ["bad_signature", "hash_mismatch", "truncated", "bad_line"],
    },
    message: { type: "string" },
  },
} as const;
