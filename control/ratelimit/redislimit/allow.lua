-- One Allow of control/ratelimit/redislimit, atomic in Redis: trim the
-- key's log, check both windows, add the request only if both have room.
--
-- KEYS[1]  the key's log: a sorted set, one member per allowed request,
--          scored with its instant in ticks
-- ARGV[1]  quota of the first window    ARGV[2]  its period, in ticks
-- ARGV[3]  quota of the second window   ARGV[4]  its period, in ticks
-- ARGV[5]  now in ticks, or "" for Redis's TIME in microseconds (then a
--          tick is a microsecond)
-- ARGV[6]  the log's time to live in milliseconds (the longest period)
--
-- Returns {allowed (1 or 0), now, the scores of the newest max(quota)
-- instants of the log as it was before this request, oldest first}.
-- Numbers cross as strings: Lua's are doubles, which hold integers up to
-- 2^53 exactly (microseconds since 1970 are about 2^51).
-- Redis before 5 replicates scripts whole and refuses writes after TIME
-- unless told to replicate their effects; from 5 on that is the default.
if redis.replicate_commands then redis.replicate_commands() end

local key = KEYS[1]
local q1, p1 = tonumber(ARGV[1]), tonumber(ARGV[2])
local q2, p2 = tonumber(ARGV[3]), tonumber(ARGV[4])

local now
if ARGV[5] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[5])
end
local function str(n) return string.format('%.0f', n) end

-- Time never goes back for a key: an instant before its newest counts as
-- that one, so the log stays in order.
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if newest[2] then now = math.max(now, tonumber(newest[2])) end

-- A request older than the longest period counts in no window.
redis.call('ZREMRANGEBYSCORE', key, '-inf', str(now - math.max(p1, p2)))

local m = math.max(q1, q2)
local log = redis.call('ZRANGE', key, -m, -1, 'WITHSCORES')
local out = {0, str(now)}
for i = 2, #log, 2 do out[#out + 1] = log[i] end

-- The window of a request at now is (now-period, now].
if redis.call('ZCOUNT', key, '(' .. str(now - p1), '+inf') < q1 and
   redis.call('ZCOUNT', key, '(' .. str(now - p2), '+inf') < q2 then
  -- Members are unique: the instant and how many the log already holds
  -- at it (none at now is ever trimmed while now is the newest).
  local same = redis.call('ZCOUNT', key, str(now), str(now))
  redis.call('ZADD', key, str(now), str(now) .. '-' .. same)
  redis.call('PEXPIRE', key, ARGV[6])
  out[1] = 1
end
return out
