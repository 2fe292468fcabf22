/**
 * The Lua scripts of `RedisConfirmationStore` and the layout of a request's hash: each
 * operation is one atomic script.
 *
 * @module
 */

import { RedisScript } from "./client.ts";

/** How long Redis keeps a request after it expired (for `get` and forensics). */
export const KEEP_AFTER_EXPIRY_MS = 86_400_000;

/** The hash fields of a request, in the order scripts and `get` read them. */
export const FIELDS = [
  "policyId",
  "fingerprint",
  "status",
  "requestedBy",
  "reason",
  "operation",
  "metadata",
  "createdAtMs",
  "expiresAtMs",
  "decidedBy",
  "decidedAtMs",
  "decisionReason",
] as const;
/** Field holding the SHA-256 (hex) of the token's secret; the secret itself is never stored. */
export const DIGEST_FIELD = "secretSha256";

const luaFields = FIELDS.map((f) => `'${f}'`).join(", ");

/**
 * Shared by the three scripts that act on a token (KEYS[1] is the request's hash):
 * `record()` reads the fields in {@link FIELDS} order; `open(digest, now, byId)` checks the
 * secret's digest (unless `byId`: the caller named the request by its id) and returns the status, turning a pending or approved request whose
 * time is up into `expired` (nil for an unknown key or a wrong secret).
 */
const PRELUDE = `
local function record()
  return redis.call('HMGET', KEYS[1], ${luaFields})
end
local function open(digest, now, byId)
  local s = redis.call('HMGET', KEYS[1], '${DIGEST_FIELD}', 'status', 'expiresAtMs')
  if not s[1] or (not byId and s[1] ~= digest) then return nil end
  local status = s[2]
  if (status == 'pending' or status == 'approved') and now >= tonumber(s[3]) then
    redis.call('HSET', KEYS[1], 'status', 'expired')
    status = 'expired'
  end
  return status
end
`;

/** ARGV: ttl of the key in ms, then field/value pairs. Answers 1, or 0 when the key exists. */
export const CREATE = new RedisScript(
  "confirm create",
  `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`,
);

/**
 * ARGV: digest, now, policyId, fingerprint. Answers `{ outcome, record }`: `ok` (now
 * consumed), or the refusal (`unknown` comes without a record).
 */
export const CONSUME = new RedisScript(
  "confirm consume",
  `${PRELUDE}
local status = open(ARGV[1], tonumber(ARGV[2]), false)
if not status then return {'unknown'} end
if status == 'consumed' then return {'used', record()} end
if status ~= 'approved' then return {status, record()} end
if redis.call('HGET', KEYS[1], 'policyId') ~= ARGV[3] then return {'wrong_policy', record()} end
if redis.call('HGET', KEYS[1], 'fingerprint') ~= ARGV[4] then return {'wrong_arguments', record()} end
redis.call('HSET', KEYS[1], 'status', 'consumed')
return {'ok', record()}
`,
);

/**
 * ARGV: digest, now, new status, decided by, has reason ('1'/'0'), reason, by id ('1'/'0':
 * the request was named by its id, the digest is not checked). Answers `{ 'ok', record }`,
 * `{ 'unknown' }`, or `{ <status> }` when the request is not pending.
 */
export const DECIDE = new RedisScript(
  "confirm decide",
  `${PRELUDE}
local status = open(ARGV[1], tonumber(ARGV[2]), ARGV[7] == '1')
if not status then return {'unknown'} end
if status ~= 'pending' then return {status} end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'decidedBy', ARGV[4], 'decidedAtMs', ARGV[2])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'decisionReason', ARGV[6])
else
  redis.call('HDEL', KEYS[1], 'decisionReason')
end
return {'ok', record()}
`,
);
