-- Moves up to ARGV[2] jobs whose time has come from a queue's scheduled set to its active list,
-- as apalis-redis's fetch does, but a bounded number at a time.
--
-- apalis-redis 1.0 sends every pushed job through the scheduled set (a job without a time is
-- scheduled for "now") and its fetch promotes *all* due jobs with one `RPUSH ... unpack(ids)`;
-- Lua cannot unpack more than about 8,000 values, so once that many are due every fetch fails
-- and the queue's workers die. Promoting here, in bounded steps, right after each push (and
-- on every scheduler tick) keeps the due part of the scheduled set small.
-- KEYS[1]: the scheduled job sorted set
-- KEYS[2]: the active job list
-- KEYS[3]: the signal list
-- ARGV[1]: now, in seconds (the scores apalis-redis uses)
-- ARGV[2]: how many jobs at most
-- Returns: how many jobs were promoted
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], 0, ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
if #ids == 0 then
    return 0
end
redis.call("RPUSH", KEYS[2], unpack(ids))
redis.call("ZREM", KEYS[1], unpack(ids))
redis.call("DEL", KEYS[3])
redis.call("LPUSH", KEYS[3], 1)
return #ids
