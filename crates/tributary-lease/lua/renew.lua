-- Extends a lease while its holder still owns it under the same fence.
--
-- KEYS[1]  {prefix}:lease:{integration_id}
-- ARGV[1]  owner
-- ARGV[2]  fence
-- ARGV[3]  time to live, in milliseconds
--
-- Returns 1 when extended, 0 when the lease expired or was taken over (a re-take by the
-- same owner issues a new fence, which also makes the old one stale).

local held = redis.call('HMGET', KEYS[1], 'owner', 'fence')
if held[1] == ARGV[1] and tonumber(held[2]) == tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
