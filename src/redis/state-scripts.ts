/**
 * The Lua scripts of `RedisStateStore`: one decision (every counter it touches) checked and
 * consumed in one script, and one batch of budget corrections in another. They are the
 * Redis translation of `MemoryStateStore` and must keep its semantics exactly; the
 * comments name the memory store's code each part mirrors.
 *
 * ## Key contents
 * - A rate-limit window is a string of `4 + 2n` little-endian IEEE doubles (n = precision
 *   + 1 buckets): the absolute index of the newest bucket, the bucket width (ms), the
 *   window length (ms), the sum of the ring, the n bucket counts, then the n times of each
 *   bucket's latest admitted request. Slot `s` holds absolute bucket `i` when
 *   `i % n == s`. One `GET` and one `SET … KEEPTTL` (`PX` when the ring moved) per
 *   decision: far cheaper than a hash of 2n + 4 fields, which cost 26 µs of Redis time
 *   per decision when measured (the packed string: about 8 µs for a window and a budget).
 * - A budget (calendar period) is a hash: `t` the total, `e` the end of the period (ms),
 *   so `HGET <key> t` shows the spend (in micro-dollars or tokens).
 *
 * Doubles round-trip exactly through `struct`; Redis writes a Lua number given to a
 * command with `%.17g`, which round-trips too. Integer totals are answered as integers,
 * others as strings (Redis would truncate a Lua number to an integer).
 *
 * A key of another type where a counter should be (something else writing under the
 * prefix) makes the script fail with WRONGTYPE before it writes anything: the decision
 * fails (closed, by default).
 *
 * @module
 * @internal
 */

import { RedisScript } from "./client.ts";

/**
 * Checks and consumes one decision's counters, all or nothing.
 *
 * KEYS: one per counter, in request order. ARGV[1]: a JSON array of numbers — `now` (the
 * caller's clock, ms), `precision` (buckets per window), `graceMs` (added to every TTL),
 * then per counter its limit, amount, and `windowMs` (window) or `expiresAtMs` (period).
 * ARGV[2]: one letter per counter: `W` window, `P` period; lower case when the counter is
 * soft (reports, never refuses). One JSON argument, decoded in C by `cjson`, costs the
 * script half of what a dozen decimal arguments and `tonumber` calls do (and Redis and the
 * client parse fewer arguments); packed binary doubles would be cheaper still in Lua, but
 * node-redis writes a Buffer argument as separate socket chunks, which costs the client
 * more than it saves Redis.
 *
 * Answers `{ refusedIndex, total1, total2, … }`: `refusedIndex` is -1 when every counter
 * was consumed (the totals then include this call), else the 0-based index of the first
 * hard counter that refused (the totals are then as they stand, and nothing moved).
 */
export const CONSUME_SCRIPT = new RedisScript(
  "state consume",
  `local floor, ceil, call, byte, format = math.floor, math.ceil, redis.call, string.byte, string.format
local pack, unpackstr, unpack, tonumber = struct.pack, struct.unpack, unpack, tonumber
local KEYS, kinds = KEYS, ARGV[2]
local n = #KEYS
local a = cjson.decode(ARGV[1])
local now, len, grace = a[1], a[2] + 1, a[3]
-- A window: a string of 4 + 2 * len doubles (see the module comment).
local wsize = 4 + 2 * len
local wformat = len == 11 and '<dddddddddddddddddddddddddd' or '<' .. string.rep('d', wsize)

-- State per key, kept at the index where the key first appears (a key listed twice shares
-- it): xs[f] a window's numbers; pt[f], pe[f] a period's total and end; mark[f] 1 when
-- changed, 2 when its TTL must be set too.
local first, xs, pt, pe, mark = {}, {}, {}, {}, {}
-- out[1] is the refused index; out[i + 1] the total of counter i.
local out = { -1 }
local refused = -1

-- First loop (MemoryStateStore#consume): read and check every counter.
for i = 1, n do
  local k = byte(kinds, i) -- 87 W, 119 w, 80 P, 112 p
  local key = KEYS[i]
  local f = i
  for j = 1, i - 1 do
    if KEYS[j] == key then
      f = first[j]
      local kf = byte(kinds, f)
      if (kf == 87 or kf == 119) ~= (k == 87 or k == 119) then
        return redis.error_reply(key .. ' is both a window and a budget in one decision')
      end
      break
    end
  end
  first[i] = f
  local current = 0
  if k == 87 or k == 119 then
    local x = xs[f]
    if f == i then
      local v = call('GET', key)
      -- Another length was written with another precision: start afresh.
      if v and #v == 8 * wsize then
        x = { unpackstr(wformat, v) }
        xs[i] = x
      end
    end
    if x then
      -- MemoryStateStore#advance: move the ring forward to now, zeroing buckets that left.
      local bucket = floor(now / x[2])
      local steps = bucket - x[1]
      if steps > 0 then
        if steps >= len then
          for s = 5, 4 + len do x[s] = 0 end
          x[4] = 0
        else
          for b = x[1] + 1, bucket do
            local s = 5 + b % len
            x[4] = x[4] - x[s]
            x[s] = 0
          end
        end
        x[1] = bucket
        mark[f] = 2
      end
      -- A clock that went back keeps counting in the newest bucket.
      local oldest = (x[1] + 1) % len
      if x[5 + len + oldest] <= now - x[3] then current = x[4] - x[5 + oldest] else current = x[4] end
    end
  else
    if f == i then
      local v = call('HMGET', key, 't', 'e')
      if v[2] then
        pt[i] = tonumber(v[1]) or 0
        pe[i] = tonumber(v[2])
      end
    end
    local e = pe[f]
    if e then
      if e > now then
        current = pt[f]
      elseif pt[f] ~= 0 then
        -- An ended period reads (and from now on stays) zero, as in the memory store.
        pt[f] = 0
        mark[f] = mark[f] or 1
      end
    end
  end
  out[i + 1] = current
  local limit = a[i * 3 + 1]
  if refused < 0 and (k == 87 or k == 80) and (current >= limit or current + a[i * 3 + 2] > limit) then
    refused = i - 1
  end
end

-- Second loop: consume every counter, or none.
if refused < 0 then
  for i = 1, n do
    local f = first[i]
    local amount = a[i * 3 + 2]
    local total = out[i + 1] + amount
    out[i + 1] = total
    local k = byte(kinds, i)
    if k == 87 or k == 119 then
      local x = xs[f]
      if x == nil then
        -- MemoryStateStore#newWindow
        local span = a[i * 3 + 3]
        local b = ceil(span / (len - 1))
        x = { floor(now / b), b, span, 0 }
        for s = 5, wsize do x[s] = 0 end
        xs[f] = x
        mark[f] = 2
      end
      local s = x[1] % len
      x[5 + s] = x[5 + s] + amount
      if now > x[5 + len + s] then x[5 + len + s] = now end
      x[4] = x[4] + amount
      mark[f] = mark[f] or 1
    else
      local span = a[i * 3 + 3]
      if pe[f] ~= span then mark[f] = 2 else mark[f] = mark[f] or 1 end
      pt[f] = total
      pe[f] = span
    end
  end
end

-- Write back what changed: admitted counters, and also when the decision was refused,
-- windows whose ring moved forward and ended periods read as zero (the memory store keeps
-- both changes too; they matter only to a caller whose clock then goes back). Redis
-- forgets a key by its own clock once it no longer matters by the caller's clock, plus
-- grace for clocks that disagree between hosts.
for i = 1, n do
  local m = mark[i]
  if m and first[i] == i then
    local key = KEYS[i]
    local x = xs[i]
    if x then
      local v = pack(wformat, unpack(x, 1, wsize))
      if m == 2 then
        -- The window's newest bucket leaves it at (h + len) * b: only a move changes that.
        local ms = ceil((x[1] + len) * x[2] - now)
        if ms < 1 then ms = 1 end
        call('SET', key, v, 'PX', ms + grace)
      else
        call('SET', key, v, 'KEEPTTL')
      end
    elseif m == 2 then
      call('HSET', key, 't', format('%.17g', pt[i]), 'e', format('%.17g', pe[i]))
      local ms = ceil(pe[i] - now)
      if ms < 1 then ms = 1 end
      call('PEXPIRE', key, ms + grace)
    else
      call('HSET', key, 't', format('%.17g', pt[i]))
    end
  end
end

-- Totals that are not integers go as strings: Redis would truncate a Lua number.
out[1] = refused
for i = 2, n + 1 do
  local t = out[i]
  if t ~= floor(t) or t <= -9007199254740992 or t >= 9007199254740992 then out[i] = format('%.17g', t) end
end
return out
`,
);

/**
 * Applies corrections to period counters (`MemoryStateStore#adjust`): a budget whose
 * period is still on moves by `delta`, never below zero; a missing one (or one whose
 * period ended, which the memory store would have swept away) is created only for a
 * positive delta whose period has not ended.
 *
 * KEYS: one per adjustment. ARGV: `now` (ms, the caller's clock at its latest decision,
 * 0 before any), `graceMs`, the time TTLs count from (`now`, or the wall clock before any
 * decision), then per adjustment: delta, expiresAtMs. Answers the number of adjustments.
 */
export const ADJUST_SCRIPT = new RedisScript(
  "state adjust",
  `local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local ttlNow = tonumber(ARGV[3])
for i = 1, #KEYS do
  local key = KEYS[i]
  local delta = tonumber(ARGV[2 + 2 * i])
  local exp = tonumber(ARGV[3 + 2 * i])
  local v = redis.call('HMGET', key, 't', 'e')
  if v[2] and tonumber(v[2]) > now then
    local t = (tonumber(v[1]) or 0) + delta
    if t < 0 then t = 0 end
    redis.call('HSET', key, 't', t)
  elseif delta > 0 and exp > now then
    redis.call('HSET', key, 't', delta, 'e', exp)
    local ms = exp - ttlNow
    if ms < 1 then ms = 1 end
    redis.call('PEXPIRE', key, math.ceil(ms) + grace)
  end
end
return #KEYS
`,
);
