-- Withdraws a DELTA's preemption request, but only its own: another DELTA may have replaced it.
-- KEYS[1]: the integration's preemption key
-- ARGV[1]: the requesting run's id
-- Returns: 1 when deleted, 0 otherwise
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
