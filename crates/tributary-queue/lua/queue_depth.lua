-- How many jobs one apalis-redis queue holds, by where they are.
-- KEYS[1]: the active (pending) job list
-- KEYS[2]: the scheduled job sorted set (delayed jobs and retries)
-- KEYS[3]: the sorted set of registered worker names
-- KEYS[4]: the prefix of the workers' in-flight sets (`<prefix>:<worker name>`)
-- Returns: {pending, scheduled, running}
local pending = redis.call("LLEN", KEYS[1])
local scheduled = redis.call("ZCARD", KEYS[2])
local running = 0
for _, worker in ipairs(redis.call("ZRANGE", KEYS[3], 0, -1)) do
    running = running + redis.call("SCARD", KEYS[4] .. ":" .. worker)
end
return {pending, scheduled, running}
