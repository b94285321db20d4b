-- Removes finished jobs of one apalis-redis queue that ended more than ARGV[1] seconds ago:
-- their data, their metadata and their entry in the done set. apalis-redis's own vacuum
-- leaves the done set growing forever; this one trims it with the rest.
-- KEYS[1]: the job data hash
-- KEYS[2]: the job metadata key prefix (`<prefix>:<task id>`)
-- KEYS[3]: the done job set
-- ARGV[1]: keep jobs that finished within this many seconds
-- Returns: the number of jobs removed
local cutoff = tonumber(redis.call("TIME")[1]) - tonumber(ARGV[1])
local terminal = { Done = true, Failed = true, Killed = true }
local removed = 0
local cursor = "0"
repeat
    local page = redis.call("HSCAN", KEYS[1], cursor, "COUNT", 500)
    cursor = page[1]
    local fields = page[2]
    for i = 1, #fields, 2 do
        local task_id = fields[i]
        local meta_key = KEYS[2] .. ":" .. task_id
        local status = redis.call("HGET", meta_key, "status")
        local done_at = tonumber(redis.call("HGET", meta_key, "done_at") or "")
        if status and terminal[status] and done_at and done_at <= cutoff then
            redis.call("HDEL", KEYS[1], task_id)
            redis.call("DEL", meta_key)
            redis.call("SREM", KEYS[3], task_id)
            removed = removed + 1
        end
    end
until cursor == "0"
return removed
