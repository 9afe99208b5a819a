-- One round trip of one process of a RedisSemaphore: release, renew and acquire leases,
-- atomically (Redis runs a script without interleaving any other command).
--
-- KEYS[1] holders: ZSET, member = permit id, score = lease expiry (ms)
-- KEYS[2] queue:   ZSET, member = id of a process with waiters, score = ticket (arrival order)
-- KEYS[3] meta:    HASH, `fence` = last fencing token, `ticket` = last ticket,
--                  `seen:<process>` = when that process's place in the queue expires (ms)
-- ARGV[1] now (ms since the Unix epoch) in client-time mode, or '' to read the server's TIME
-- ARGV[2] limit   ARGV[3] lease (ms)   ARGV[4] this process's id   ARGV[5] release channel
-- ARGV[6], ARGV[7], ARGV[8]: how many permit ids follow to release, to renew, to acquire;
-- then the ids, in that order.
--
-- Reply: { permits granted (the first ones of the ids to acquire), the fencing token of the
--          first (the next ones follow it), ms until the earliest lease expires (-1: none or
--          not asked), { 1-based positions of renewed ids whose lease was lost },
--          other processes waiting }
--
-- Messages on the channel: '<process>' when that process made room others may take, and
-- 'w:<process>' when that process starts waiting (so holders stop passing their leases on
-- inside their own process, and release them here instead).
--
-- Numbers go to redis.call as strings made with '%d' (`int`): Redis 7.0 prints a Lua number
-- (a double) with '%.17g', a slow path of printf, and a batch passes the same expiry once per
-- permit. Every integer here is below 2^53: exact either way.

local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local holders, queue, meta = KEYS[1], KEYS[2], KEYS[3]
local limit, lease, me, channel = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local n_release, n_renew, n_acquire = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local function int(n) return string.format('%d', n) end
local expiry = int(now + lease)
local CHUNK = 500 -- arguments per unpack(), well inside Lua's stack limit

-- Releases are idempotent: an id that is not there (released before, expired) is skipped.
local freed = 0
local arg = 9
local last_release = 8 + n_release
while arg <= last_release do
  local upto = math.min(arg + CHUNK - 1, last_release)
  freed = freed + redis.call('ZREM', holders, unpack(ARGV, arg, upto))
  arg = upto + 1
end
freed = freed + redis.call('ZREMRANGEBYSCORE', holders, '-inf', int(now))

-- A renewal never resurrects a lease: once expired (purged above) or gone, it is lost.
local lost = {}
local written = false
for j = 1, n_renew do
  if redis.call('ZADD', holders, 'XX', 'CH', expiry, ARGV[arg]) == 0
      and not redis.call('ZSCORE', holders, ARGV[arg]) then
    lost[#lost + 1] = j
  else
    written = true
  end
  arg = arg + 1
end

-- Processes with waiters, in arrival order. Each one ahead of us holds back one free permit,
-- so a process that keeps releasing and re-acquiring cannot starve the others. The place of a
-- process that stopped asking (crashed) expires like a lease.
local ahead, others, queued = 0, 0, false
for _, process in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
  if process == me then
    queued = true
  else
    local seen = tonumber(redis.call('HGET', meta, 'seen:' .. process) or '0')
    if seen <= now then
      redis.call('ZREM', queue, process)
      redis.call('HDEL', meta, 'seen:' .. process)
    else
      others = others + 1
      if not queued then ahead = ahead + 1 end
    end
  end
end

local held = redis.call('ZCARD', holders)
local granted = math.min(n_acquire, math.max(0, limit - held - ahead))
local first = 0
if granted > 0 then
  -- Tokens grow by one per permit, and never fall below now * 1000, so they keep growing
  -- after the keys expired while idle (or were lost in a restart) as long as the clock does.
  first = math.max(tonumber(redis.call('HGET', meta, 'fence') or '0') + 1, now * 1000)
  local last_grant = arg + granted - 1
  while arg <= last_grant do
    local upto = math.min(arg + CHUNK - 1, last_grant)
    local members = {}
    for j = arg, upto do
      members[#members + 1] = expiry
      members[#members + 1] = ARGV[j]
    end
    redis.call('ZADD', holders, unpack(members))
    arg = upto + 1
  end
  redis.call('HSET', meta, 'fence', int(first + granted - 1))
  held = held + granted
  written = true
end

if n_acquire > granted then
  -- Still waiting: join the queue, or after a partial grant go to its back (round robin).
  if granted > 0 or not queued then
    redis.call('ZADD', queue, redis.call('HINCRBY', meta, 'ticket', '1'), me)
  end
  if not queued then redis.call('PUBLISH', channel, 'w:' .. me) end
  redis.call('HSET', meta, 'seen:' .. me, expiry)
  written = true
elseif queued then
  redis.call('ZREM', queue, me)
  redis.call('HDEL', meta, 'seen:' .. me)
end

-- Wake the other waiting processes only when this call made room that is still free. (A call
-- that frees nothing never publishes, so waiters cannot wake each other in a loop.)
if freed > 0 and held < limit and others > 0 then
  redis.call('PUBLISH', channel, me)
end

-- Idle keys expire by themselves, two leases after the last write (every lease in the set
-- expires within one lease of the write that set it, since every process uses the same
-- lease; the second lease is a margin). A release only shortens what is needed.
if written then
  local ttl = int(2 * lease)
  redis.call('PEXPIRE', holders, ttl)
  redis.call('PEXPIRE', meta, ttl)
  if n_acquire > granted then redis.call('PEXPIRE', queue, ttl) end
end

-- Asked only when waiting: the time at which room is made by an expiry, at the latest.
local wait = -1
if n_acquire > granted then
  local earliest = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
  if earliest[2] then wait = tonumber(earliest[2]) - now end
end
return { granted, first, wait, lost, others }
