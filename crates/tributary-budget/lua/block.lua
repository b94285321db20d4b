-- block: every process holding the integration waits until the tool's quota is back.
--
-- KEYS[1]: the integration's block (microseconds since the epoch, server clock)
-- ARGV[1]: how long the tool asked us to wait, microseconds
--
-- A block only ever moves later: a shorter wait reported after a longer one (a request that
-- was in flight) must not cut the longer one short.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = tonumber(ARGV[1])
local untl = now + wait
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if untl > current then
  redis.call('SET', KEYS[1], string.format('%.0f', untl), 'PX', math.ceil(wait / 1000) + 1000)
end
return 1
