-- Gives a lease back so the next worker need not wait for the TTL. Only its holder under
-- the same fence may: a worker whose lease expired must not delete its successor's.
-- The fence counter stays, so the next grant still gets a higher token.
--
-- KEYS[1]  {prefix}:lease:{integration_id}
-- ARGV[1]  owner
-- ARGV[2]  fence
--
-- Returns 1 when released, 0 when the lease was not (or no longer) this holder's.

local held = redis.call('HMGET', KEYS[1], 'owner', 'fence')
if held[1] == ARGV[1] and tonumber(held[2]) == tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
