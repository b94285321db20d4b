-- apalis-redis 1.0's `register_worker.lua`, with its queue registry under our prefix.
--
-- apalis-redis records every queue in the global key `core:apalis:queues:list`, written by
-- the script itself, so no configuration moves it: the one key a deployment would otherwise
-- write outside `--redis-prefix`. `ApalisConnection` (src/apalis_connection.rs) runs this
-- script instead of apalis-redis's own, with that registry passed as KEYS[3]. Nothing of
-- ours reads the registry (apalis's `list_queues` and metrics do; we use our own depth
-- script), but it is kept so the script does what apalis expects.
--
-- KEYS[1]: the active workers set
-- KEYS[2]: worker metadata_key
-- KEYS[3]: the queue registry, `{prefix}:apalis:queues`
-- ARGV[1]: current time
-- ARGV[2]: worker name
-- ARGV[3]: threshold
-- ARGV[4]: backend_name
-- ARGV[5]: service
local now = tonumber(ARGV[1])
local worker_name = ARGV[2]
local threshold = tonumber(ARGV[3])
local backend_name = ARGV[4]
local service = ARGV[5]
local worker_metadata_key = KEYS[2]

local last_seen = redis.call("zscore", KEYS[1], worker_name)
if last_seen then
    if now - tonumber(last_seen) < threshold then
        error("worker is still active within threshold")
    end
end

-- Update the active workers sorted set
redis.call("zadd", KEYS[1], now, worker_name)

-- Register as a queue if missing
redis.call("zadd", KEYS[3], 'GT', now, KEYS[1])

-- Store or update worker metadata
redis.call("hmset", worker_metadata_key, "backend_name", backend_name, "service", service)

return true
