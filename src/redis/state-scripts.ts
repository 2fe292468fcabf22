/**
 * The Lua scripts of `RedisStateStore`: one decision (every counter it touches) checked and
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
  `local floor, ceil, call, byte, sub, format = math.floor, math.ceil, redis.call, string.byte, string.sub, string.format
local pack, unpackstr, unpack = struct.pack, struct.unpack, unpack
local KEYS, kinds = KEYS, ARGV[2]
local n = #KEYS
local a = cjson.decode(ARGV[1])
local now, len, grace = a[1], a[2] + 1, a[3]
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

-- State per key, kept at the index where the key first appears (a key listed twice shares
-- it). A window: wv[f] its value as it will be written, wh[f] the newest bucket, wt[f] the
-- ring's sum, ws[f] the window length. A period: pt[f], pe[f] its total and end. mark[f]:
-- 1 when changed, 2 when its TTL must be set too.
local first, wv, wh, wt, ws, pt, pe, mark = {}, {}, {}, {}, {}, {}, {}, {}
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
    if f == i then
      local v = call('GET', key)
      -- Another length was written with another precision: start afresh.
      if v and #v == wbytes and byte(v) == 2 then
        local head, width, span, total = unpackstr('<dddd', v, 2)
        local bucket = floor(now / width)
        if bucket > head then
          v, total = advance(v, bucket)
          head = bucket
          mark[i] = 2
        end
        wv[i], wh[i], wt[i], ws[i] = v, head, total, span
      end
    end
    local v = wv[f]
    if v then
      -- A clock that went back keeps counting in the newest bucket.
      local count, last = unpackstr('<dd', v, 34 + 16 * ((wh[f] + 1) % len))
      if last <= now - ws[f] then current = wt[f] - count else current = wt[f] end
    end
  else
    if f == i then
      local v = call('GET', key)
      if v then
        if #v ~= 17 or byte(v) ~= 2 then
          return redis.error_reply(key .. ' does not hold a budget (layout 2)')
        end
        pt[i], pe[i] = unpackstr('<dd', v, 2)
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
      local v = wv[f]
      if v == nil then
        -- MemoryStateStore#newWindow
        local span = a[i * 3 + 3]
        local b = ceil(span / (len - 1))
        local head = floor(now / b)
        v = pack('<Bdddd', 2, head, b, span, 0) .. string.rep('\\0', 16 * len)
        wh[f], wt[f], ws[f] = head, 0, span
        mark[f] = 2
      end
      -- The newest bucket's pair, and the ring's sum, rewritten.
      local at = 34 + 16 * (wh[f] % len)
      local count, last = unpackstr('<dd', v, at)
      if now > last then last = now end
      local sum = wt[f] + amount
      wt[f] = sum
      wv[f] = sub(v, 1, 25) .. pack('<d', sum) .. sub(v, 34, at - 1) .. pack('<dd', count + amount, last) .. sub(v, at + 16)
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
    local v = wv[i]
    if v then
      if m == 2 then
        -- The window's newest bucket leaves it at (h + len) * b: only a move changes that.
        local ms = ceil((wh[i] + len) * unpackstr('<d', v, 10) - now)
        if ms < 1 then ms = 1 end
        call('SET', key, v, 'PX', ms + grace)
      else
        call('SET', key, v, 'KEEPTTL')
      end
    elseif m == 2 then
      local ms = ceil(pe[i] - now)
      if ms < 1 then ms = 1 end
      call('SET', key, pack('<Bdd', 2, pt[i], pe[i]), 'PX', ms + grace)
    else
      call('SETRANGE', key, 1, pack('<d', pt[i]))
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
