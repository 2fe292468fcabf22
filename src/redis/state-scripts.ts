/**
 * The Lua scripts of `RedisStateStore`: decisions (every counter each touches) checked and
 * consumed in one script, and one batch of budget corrections in another. They are the
 * Redis translation of `MemoryStateStore` and must keep its semantics exactly; the
 * comments name the memory store's code each part mirrors.
 *
 * ## Key contents (layout 2)
 * Every counter is a string that starts with the byte 2 (the layout), then little-endian
 * IEEE doubles; a script reads and writes only the doubles it needs (`struct.unpack` at an
 * offset), because Redis's Lua 5.1 spends more time unpacking and repacking numbers than
 * on anything else a decision does.
 * - A rate-limit window: 4 doubles — the absolute index of the newest bucket, the bucket
 *   width (ms), the window length (ms), the sum of the ring — then n pairs (n = precision
 *   + 1 buckets): each bucket's count and the time of its latest admitted request. Slot
 *   `s` (its pair at byte 34 + 16s, 1-based) holds absolute bucket `i` when `i % n == s`.
 *   A decision reads the header and two pairs and rewrites one `SET … KEEPTTL` (`PX` when
 *   the ring moved). A value of another length or layout (another precision) is read as
 *   an empty window and overwritten.
 * - A budget (calendar period): 2 doubles, the total (micro-dollars or tokens) and the
 *   end of the period (ms); 17 bytes. A decision rewrites the total in place
 *   (`SETRANGE`, which keeps the TTL). A value of another length or layout makes the
 *   script fail before it writes anything: spend is never silently forgotten.
 *
 * Doubles round-trip exactly through `struct`. Integer totals are answered as integers,
 * others as strings (Redis would truncate a Lua number to an integer).
 *
 * A key of another type where a counter should be (something else writing under the
 * prefix), or a budget key of another layout, fails the decision that reads it (closed,
 * by default) before it moves anything; the other decisions of the script are decided
 * and written.
 *
 * @module
 * @internal
 */

import { RedisScript } from "./client.ts";

/**
 * Checks and consumes the counters of one or more decisions, each all or nothing, in the
 * order given: exactly what running the decisions one after another would do, in one
 * script. A key several decisions touch (a budget every call shares) is read once and
 * written once.
 *
 * KEYS: every decision's counters, one key each, decision after decision. ARGV[1]: a JSON
 * array of numbers — `precision` (buckets per window), `graceMs` (added to every TTL), the
 * number of decisions, then per decision its `now` (the caller's clock, ms) and its
 * number of counters n, then per counter its limit, amount, and `windowMs` (window) or
 * `expiresAtMs` (period). ARGV[2]: one letter per counter: `W` window, `P` period; lower
 * case when the counter is soft (reports, never refuses). ARGV[3], optional: `1` for a
 * peek (`RedisStateStore.peek`, a dry run): every decision is checked and answered exactly
 * as it would be, and nothing is written (no write command is called, so the script may
 * run as `EVALSHA_RO`). One JSON argument, decoded in C
 * by `cjson`, costs the script half of what a dozen decimal arguments and `tonumber`
 * calls do (and Redis and the client parse fewer arguments); packed binary doubles would
 * be cheaper still in Lua, but node-redis writes a Buffer argument as separate socket
 * chunks, which costs the client more than it saves Redis.
 *
 * Answers, per decision, `refusedIndex, total1, …, totalN`: `refusedIndex` is -1 when
 * every counter was consumed (the totals then include this call), else the 0-based index
 * of the first hard counter that refused (the totals are then as they stand, and nothing
 * moved). A decision that cannot be decided (a key of another type or layout; one key as
 * a window and a budget) answers an error message instead of its index, and n zeros: it
 * moved nothing, and the other decisions are unaffected.
 */
export const CONSUME_SCRIPT = new RedisScript(
  "state consume",
  `local floor, ceil, call, pcall, byte, sub, format, type = math.floor, math.ceil, redis.call, redis.pcall, string.byte, string.sub, string.format, type
local pack, unpackstr, unpack = struct.pack, struct.unpack, unpack
local KEYS, kinds = KEYS, ARGV[2]
local a = cjson.decode(ARGV[1])
local len, grace, decisions = a[1] + 1, a[2], a[3]
-- A window's length in bytes: the layout byte, 4 doubles, len pairs of doubles.
local wbytes = 33 + 16 * len

-- MemoryStateStore#advance for a window whose ring must move forward to \`bucket\`
-- (rare: at most once per bucket and key): every number unpacked, buckets that left the
-- window zeroed (their latest times stay, as in the memory store), packed again.
local function advance(v, bucket)
  local size = 4 + 2 * len
  local fmt = '<' .. string.rep('d', size)
  local x = { unpackstr(fmt, v, 2) }
  local head = x[1]
  if bucket - head >= len then
    for s = 5, size, 2 do x[s] = 0 end
    x[4] = 0
  else
    for b = head + 1, bucket do
      local s = 5 + 2 * (b % len)
      x[4] = x[4] - x[s]
      x[s] = 0
    end
  end
  x[1] = bucket
  return '\\2' .. pack(fmt, unpack(x, 1, size)), x[4]
end

-- State per key, shared by the decisions: st[key] = { w = true for a window, then for a
-- window v (its value as it will be written; nil while it has none), h (newest bucket),
-- b (bucket width), t (ring sum), s (window length); for a budget t (total) and e (end);
-- m = 1 when changed, 2 when its TTL must be set too, x = the TTL (ms, before grace) }.
-- order lists the keys as first seen, so writes happen in a fixed order.
local st, order = {}, {}
local out = {}
local ai, ki = 4, 0
-- Scratch per decision: each counter's state and current total.
local sts, cur = {}, {}

for d = 1, decisions do
  local now, n = a[ai], a[ai + 1]
  ai = ai + 2
  local refused, err = -1, nil
  -- First loop (MemoryStateStore#consume): read and check every counter.
  for i = 1, n do
    local key = KEYS[ki + i]
    local k = byte(kinds, ki + i) -- 87 W, 119 w, 80 P, 112 p
    local isw = k == 87 or k == 119
    local s = st[key]
    if s == nil then
      local v = pcall('GET', key)
      if type(v) == 'table' then
        err = key .. ': ' .. tostring(v.err)
        break
      end
      s = { w = isw }
      if isw then
        -- Another length was written with another precision: start afresh.
        if v and #v == wbytes and byte(v) == 2 then
          s.h, s.b, s.s, s.t = unpackstr('<dddd', v, 2)
          s.v = v
        end
      elseif v then
        if #v ~= 17 or byte(v) ~= 2 then
          err = key .. ' does not hold a budget (layout 2)'
          break
        end
        s.t, s.e = unpackstr('<dd', v, 2)
      end
      st[key] = s
      order[#order + 1] = key
    elseif s.w ~= isw then
      err = key .. ' is both a window and a budget'
      break
    end
    sts[i] = s
    local current = 0
    if isw then
      if s.v then
        local bucket = floor(now / s.b)
        if bucket > s.h then
          s.v, s.t = advance(s.v, bucket)
          s.h = bucket
          s.m = 2
          -- The newest bucket leaves the window at (h + len) * b.
          s.x = (bucket + len) * s.b - now
        end
        -- A clock that went back keeps counting in the newest bucket.
        local count, last = unpackstr('<dd', s.v, 34 + 16 * ((s.h + 1) % len))
        if last <= now - s.s then current = s.t - count else current = s.t end
      end
    elseif s.e then
      if s.e > now then
        current = s.t
      elseif s.t ~= 0 then
        -- An ended period reads (and from now on stays) zero, as in the memory store.
        s.t = 0
        s.m = s.m or 1
      end
    end
    cur[i] = current
    local limit = a[ai + 3 * i - 3]
    if refused < 0 and (k == 87 or k == 80) and (current >= limit or current + a[ai + 3 * i - 2] > limit) then
      refused = i - 1
    end
  end

  if err then
    out[#out + 1] = err
    for i = 1, n do out[#out + 1] = 0 end
  else
    -- Second loop: consume every counter, or none.
    if refused < 0 then
      for i = 1, n do
        local s = sts[i]
        local amount = a[ai + 3 * i - 2]
        local span = a[ai + 3 * i - 1]
        local total = cur[i] + amount
        cur[i] = total
        if s.w then
          local v = s.v
          if v == nil then
            -- MemoryStateStore#newWindow
            local b = ceil(span / (len - 1))
            local head = floor(now / b)
            v = pack('<Bdddd', 2, head, b, span, 0) .. string.rep('\\0', 16 * len)
            s.h, s.b, s.s, s.t = head, b, span, 0
            s.m = 2
            s.x = (head + len) * b - now
          end
          -- The newest bucket's pair, and the ring's sum, rewritten.
          local at = 34 + 16 * (s.h % len)
          local count, last = unpackstr('<dd', v, at)
          if now > last then last = now end
          local sum = s.t + amount
          s.t = sum
          s.v = sub(v, 1, 25) .. pack('<d', sum) .. sub(v, 34, at - 1) .. pack('<dd', count + amount, last) .. sub(v, at + 16)
          s.m = s.m or 1
        else
          if s.e ~= span then
            s.m = 2
            s.x = span - now
          else
            s.m = s.m or 1
          end
          s.t = total
          s.e = span
        end
      end
    end
    -- Totals that are not integers go as strings: Redis would truncate a Lua number.
    out[#out + 1] = refused
    for i = 1, n do
      local t = cur[i]
      if t ~= floor(t) or t <= -9007199254740992 or t >= 9007199254740992 then t = format('%.17g', t) end
      out[#out + 1] = t
    end
  end
  ai = ai + 3 * n
  ki = ki + n
end

-- A peek (ARGV[3] = '1', a dry run) answers the same, and writes nothing: the script then
-- calls no write command, so it may run as EVALSHA_RO.
if ARGV[3] == '1' then return out end

-- Write back what changed, once per key: admitted counters, and also when a decision was
-- refused, windows whose ring moved forward and ended periods read as zero (the memory
-- store keeps both changes too; they matter only to a caller whose clock then goes back).
-- Redis forgets a key by its own clock once it no longer matters by the caller's clock,
-- plus grace for clocks that disagree between hosts.
for j = 1, #order do
  local key = order[j]
  local s = st[key]
  local m = s.m
  if m then
    local ms = 0
    if m == 2 then
      ms = ceil(s.x)
      if ms < 1 then ms = 1 end
    end
    if s.w then
      if m == 2 then call('SET', key, s.v, 'PX', ms + grace) else call('SET', key, s.v, 'KEEPTTL') end
    elseif m == 2 then
      call('SET', key, pack('<Bdd', 2, s.t, s.e), 'PX', ms + grace)
    else
      call('SETRANGE', key, 1, pack('<d', s.t))
    end
  end
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
local unpackstr, pack, byte = struct.unpack, struct.pack, string.byte
-- Every key is read (and checked) before anything is written: all or nothing. A key
-- listed twice is corrected twice, the second time from the first's result.
local budgets = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  if budgets[key] == nil then
    local v = redis.call('GET', key)
    if v then
      if #v ~= 17 or byte(v) ~= 2 then
        return redis.error_reply(key .. ' does not hold a budget (layout 2)')
      end
      local t, e = unpackstr('<dd', v, 2)
      budgets[key] = { t, e }
    else
      budgets[key] = false
    end
  end
end
for i = 1, #KEYS do
  local key = KEYS[i]
  local delta = tonumber(ARGV[2 + 2 * i])
  local exp = tonumber(ARGV[3 + 2 * i])
  local b = budgets[key]
  if b and b[2] > now then
    local t = b[1] + delta
    if t < 0 then t = 0 end
    b[1] = t
    redis.call('SETRANGE', key, 1, pack('<d', t))
  elseif delta > 0 and exp > now then
    local ms = exp - ttlNow
    if ms < 1 then ms = 1 end
    budgets[key] = { delta, exp }
    redis.call('SET', key, pack('<Bdd', 2, delta, exp), 'PX', math.ceil(ms) + grace)
  end
end
return #KEYS
`,
);
