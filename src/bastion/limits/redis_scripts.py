"""The Lua scripts of the Redis counter store, and the key layout they keep.

Keys live under ``redis.key_prefix`` + ``lim:``:

* ``epoch`` — the id of the current set of counters, written once by ``RESTORE``, part
  of every counter key and checked first by every script (an answer ``{0, epoch}``
  says the caller's epoch is stale). It never expires; nor does ``seq``, the counter
  naming window entries and leases.
* ``<epoch>:w:<key>`` / ``<epoch>:s:<key>`` — a sliding log: a sorted set of entries
  ``<id>:<weight>`` scored by their time in µs, and the sum of its weights. Entries
  leave when a take finds them older than the window; both keys expire one second
  after the window of their newest entry.
* ``<epoch>:l:<key>`` — leases: a sorted set of lease ids scored by their expiry.
* ``<epoch>:t:<key>`` — a period total, expiring an hour after its period ends.
* ``members`` — the processes using these counters: a sorted set of random process
  ids scored by when their registration lapses (``MEMBERS``), for the local share of
  each limit while Redis is down (``limits.on_store_down: degrade``).

Amounts travel as decimal strings and are summed by Redis (int64, exact); comparisons
with a limit happen in Lua's doubles, exact below 2**53 (about USD 9,000 in
picodollars) and within a few picodollars above. Times are µs of the server's ``TIME``.
"""

from __future__ import annotations

_COMMON = """
local function weight(member)
  return string.match(member, ':(%d+)$')
end
local function server_now()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
local function keep_ms(span_us)
  return math.floor(span_us / 1000) + 1000
end
local function delta(new, old)  -- one call's amounts: far below 2^53, exact as doubles
  return string.format('%d', tonumber(new) - tonumber(old))
end
local TOTAL_GRACE_MS = 3600000
local function fields(argv)  -- ARGV[1], then the fields packed space-separated in ARGV[2]
  local out = {argv[1]}
  for field in string.gmatch(argv[2] or '', '%S+') do out[#out + 1] = field end
  return out
end
"""

# KEYS: epoch marker, seq, then per hold: its counter and (windows) the counter's sum.
# ARGV: the epoch the keys were built with, then (one string, space-separated, so the
# client encodes two arguments rather than four per hold) per hold: kind, limit,
# amount, span µs.
# Answers {0, current epoch} (stale), {-1, index, used, retry µs or -1} or
# {1, now µs, first id - 1, then per hold: used after the take, reset µs}. Used, not
# what is left: a limit may be past int64 (USD 10M is 10**19 picodollars), which a
# number reply cannot carry, so the client subtracts with exact integers.
TAKE = (
    _COMMON
    + """
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {0, epoch or ''} end
local A = fields(ARGV)
local now = server_now()
local n = (#A - 1) / 4
local seen = {}  -- per hold: windows their oldest entry's time, totals their value
for i = 1, n do
  local key, sum = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local kind, limit = A[4 * i - 2], tonumber(A[4 * i - 1])
  local amount, span = tonumber(A[4 * i]), tonumber(A[4 * i + 1])
  if kind == 'w' then
    local cutoff = now - span
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if oldest[2] and tonumber(oldest[2]) <= cutoff then
      local gone = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff)
      redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
      oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      if oldest[2] then
        for _, member in ipairs(gone) do redis.call('DECRBY', sum, weight(member)) end
      else
        redis.call('DEL', sum)
      end
    end
    local total = tonumber(redis.call('GET', sum) or '0')
    if total + amount > limit then
      local retry = -1
      if amount <= limit then
        local need, freed, start = total + amount - limit, 0, 0
        while retry < 0 do
          local page = redis.call('ZRANGE', key, start, start + 99, 'WITHSCORES')
          if #page == 0 then break end
          for j = 1, #page, 2 do
            freed = freed + tonumber(weight(page[j]))
            if freed >= need then
              retry = math.max(tonumber(page[j + 1]) + span - now, 0)
              break
            end
          end
          start = start + 100
        end
      end
      return {-1, i - 1, total, retry}
    end
    seen[i] = tonumber(oldest[2] or now)
  elseif kind == 'l' then
    local count = redis.call('ZCARD', key)
    if count + 1 > limit then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      count = redis.call('ZCARD', key)
      if count + 1 > limit then
        local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        local retry = 0
        if first[2] then retry = math.max(tonumber(first[2]) - now, 0) end
        return {-1, i - 1, count, retry}
      end
    end
    seen[i] = count
  else
    local total = redis.call('GET', key)
    if (tonumber(total) or 0) + amount > limit then
      return {-1, i - 1, tonumber(total) or 0, -1}
    end
    seen[i] = total
  end
end
local last = redis.call('INCRBY', KEYS[2], n)
local reply = {1, now, last - n}
for i = 1, n do
  local key, sum = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local kind = A[4 * i - 2]
  local amount, span = A[4 * i], tonumber(A[4 * i + 1])
  local id = string.format('%d', last - n + i)
  if kind == 'w' then
    redis.call('ZADD', key, now, id .. ':' .. amount)
    local total = redis.call('INCRBY', sum, amount)
    redis.call('PEXPIRE', key, keep_ms(span))
    redis.call('PEXPIRE', sum, keep_ms(span))
    reply[#reply + 1] = total
    reply[#reply + 1] = seen[i] + span - now
  elseif kind == 'l' then
    redis.call('ZADD', key, now + span, id)
    redis.call('PEXPIRE', key, keep_ms(span))
    reply[#reply + 1] = seen[i] + 1
    reply[#reply + 1] = 0
  elseif seen[i] then
    reply[#reply + 1] = redis.call('INCRBY', key, amount)
    reply[#reply + 1] = math.max(redis.call('PTTL', key) - 1000 - TOTAL_GRACE_MS, 0) * 1000
  else
    redis.call('SET', key, amount, 'PX', keep_ms(span) + TOTAL_GRACE_MS)
    reply[#reply + 1] = tonumber(amount)
    reply[#reply + 1] = span
  end
end
return reply
"""
)

# KEYS: epoch marker, then per hold: its counter and its sum (in the current epoch).
# ARGV: current epoch, then (one string, space-separated) per hold: kind, id, amount
# held, amount settled, span µs, its ticket's epoch and take time µs. A hold of an
# older epoch was lost with it: what it settles to is added afresh (the ledger did not
# have it when the counters were rebuilt).
SETTLE = (
    _COMMON
    + """
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {0, epoch or ''} end
local A = fields(ARGV)
local now = server_now()
for i = 1, (#A - 1) / 7 do
  local key, sum = KEYS[2 * i], KEYS[2 * i + 1]
  local b = 7 * i - 6
  local kind, id, old, new = A[b + 1], A[b + 2], A[b + 3], A[b + 4]
  local span, same, at = tonumber(A[b + 5]), A[b + 6] == A[1], tonumber(A[b + 7])
  if kind == 'l' then
    if same then redis.call('ZREM', key, id) end
  elseif kind == 'w' then
    if same then
      if new ~= old and redis.call('ZREM', key, id .. ':' .. old) == 1 then
        redis.call('ZADD', key, at, id .. ':' .. new)
        redis.call('INCRBY', sum, delta(new, old))
      end
    elseif at > now - span then
      redis.call('ZADD', key, at, id .. ':' .. new)
      redis.call('INCRBY', sum, new)
      redis.call('PEXPIRE', key, keep_ms(span))
      redis.call('PEXPIRE', sum, keep_ms(span))
    end
  elseif same then
    if new ~= old and redis.call('EXISTS', key) == 1 then
      redis.call('INCRBY', key, delta(new, old))
    end
  elseif at + span > now then
    if redis.call('EXISTS', key) == 1 then
      redis.call('INCRBY', key, new)
    else
      redis.call('SET', key, new, 'PX', keep_ms(at + span - now) + TOTAL_GRACE_MS)
    end
  end
end
return {1}
"""
)

# KEYS: epoch marker, seq, then per entry: its counter and its sum (in epoch ARGV[1]).
# ARGV: the epoch the keys were built with, '1' when it is a new one to create (the
# caller found no epoch), then per entry: kind, amount, at µs, span µs. Seeds only the
# counters that do not exist yet, each with all its entries: every counter when the
# epoch is new, and in a running epoch those of a budget added to the config. A counter
# that exists (counted by the callers, or seeded first by another process) is left as
# it is, so concurrent restorers never add the ledger twice. Answers {0, current epoch
# or ''} when the caller's epoch is not the current one, else {1, epoch, counters seeded}.
RESTORE = (
    _COMMON
    + """
local current = redis.call('GET', KEYS[1])
if current then
  if current ~= ARGV[1] then return {0, current} end
elseif ARGV[2] ~= '1' then
  return {0, ''}  -- never revive an old epoch's leftovers: the caller makes a new one
end
local now = server_now()
local n = (#ARGV - 2) / 4
local last = redis.call('INCRBY', KEYS[2], n)
local fresh, seeded = {}, {}
local count = 0
for i = 1, n do
  local key, sum = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local kind, amount = ARGV[4 * i - 1], ARGV[4 * i]
  local at, span = tonumber(ARGV[4 * i + 1]), tonumber(ARGV[4 * i + 2])
  if fresh[key] == nil then fresh[key] = redis.call('EXISTS', key) == 0 end
  if fresh[key] and (kind ~= 'w' or at > now - span) then
    if not seeded[key] then
      seeded[key] = true
      count = count + 1
    end
    if kind == 'w' then
      redis.call('ZADD', key, at, string.format('%d', last - n + i) .. ':' .. amount)
      redis.call('INCRBY', sum, amount)
      redis.call('PEXPIRE', key, keep_ms(span))
      redis.call('PEXPIRE', sum, keep_ms(span))
    elseif redis.call('EXISTS', key) == 1 then  -- seeded by an earlier entry
      redis.call('INCRBY', key, amount)
    else
      redis.call('SET', key, amount, 'PX', keep_ms(span) + TOTAL_GRACE_MS)
    end
  end
end
if not current then redis.call('SET', KEYS[1], ARGV[1]) end
return {1, ARGV[1], count}
"""
)


# KEYS: members; ARGV: this process's id, how long its registration lasts (µs).
# Registers the process, forgets lapsed ones, answers how many are registered.
MEMBERS = (
    _COMMON
    + """
local now = server_now()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], keep_ms(tonumber(ARGV[2])))
return redis.call('ZCARD', KEYS[1])
"""
)
