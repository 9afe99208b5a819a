-- GCRA for one key, atomically. The key holds the theoretical arrival time (TAT, µs since the
-- Unix epoch): the instant the bucket would be full again. Taking n tokens moves it to
-- max(TAT, now) + n * interval, allowed when that is at most now + burst * interval.
--
-- KEYS[1] the limited key
-- ARGV[1] now (µs since the Unix epoch) in client-time mode, or '' to read the server's TIME
-- ARGV[2] emission interval (µs per token)   ARGV[3] burst   ARGV[4] tokens asked for (0: peek)
--
-- Reply: { allowed (1/0), tokens remaining, µs until the request would be allowed (-1 when
--          allowed), µs until the bucket is full again }
--
-- Numbers go to redis.call as strings made with '%d': Redis 7.0 prints a Lua number (a double)
-- with '%.17g', a slow path of printf. The integers here are below 2^53 µs (until year 2255):
-- exact either way.

local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local interval, burst, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tolerance = interval * burst

local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n * interval
local allow_at = new_tat - tolerance

if allow_at > now then
  return { 0, math.max(0, math.floor((now + tolerance - tat) / interval)), allow_at - now, tat - now }
end
if n > 0 then
  -- The key lives exactly as long as it matters: once it expires the bucket is full, which is
  -- what a missing key means.
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX',
    string.format('%d', math.ceil((new_tat - now) / 1000)))
end
return { 1, math.floor((now + tolerance - new_tat) / interval), -1, new_tat - now }
