-- Takes an integration's lease and hands out the next fence token, atomically.
--
-- SET NX PX semantics: the lease is granted when nobody holds it, when it has expired, or
-- when its holder asks again (a worker re-taking its own lease after a restart of the task
-- must not wait for the TTL). Every grant, a re-take included, issues a new fence, so a
-- stale task of the same owner is fenced off like anyone else's.
--
-- KEYS[1]  {prefix}:lease:{integration_id}  hash {owner, fence}, expiring after the TTL
-- KEYS[2]  {prefix}:fence:{integration_id}  the fence counter; never expires
-- ARGV[1]  owner
-- ARGV[2]  time to live, in milliseconds
-- ARGV[3]  floor: the fence the mirror (Postgres) already holds
--
-- Returns the new fence, or nil while another owner holds the lease.

local holder = redis.call('HGET', KEYS[1], 'owner')
if holder and holder ~= ARGV[1] then
  return false
end

local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if counter == nil then
  return redis.error_reply('fence counter ' .. KEYS[2] .. ' does not hold an integer')
end
-- A flushed or restarted Redis forgets the counter, but the mirror remembers the highest
-- fence it accepted: starting below it would fence every write of the new holder.
if tonumber(ARGV[3]) > counter then
  redis.call('SET', KEYS[2], ARGV[3])
end
local fence = redis.call('INCR', KEYS[2])

redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'fence', fence)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return fence
