-- take: reserves one request's slot of each limit of an integration's budget (GCRA) and
-- answers how long the request waits for the latest of them, in microseconds.
--
-- KEYS[1]: the integration's block ("quota spent until", microseconds since the epoch)
-- KEYS[2..n]: one key per limit, holding its theoretical arrival time (TAT), microseconds
-- ARGV[2i-1], ARGV[2i]: limit i's emission interval and burst tolerance, microseconds
--
-- Times come from the server's clock (TIME), the one clock every process shares. A request
-- may go at TAT - tolerance; taking its slot moves TAT on by one interval. Slots are counted
-- from the end of a block, not from now, so requests waiting out a block leave it spaced, not
-- in a volley. Each key expires once its TAT has passed (an idle limit holds nothing).
-- Numbers are written with %.0f: tostring would round 16-digit microseconds to 14 digits.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = now
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if blocked > start then
  start = blocked
end
local wait = start - now
for i = 2, #KEYS do
  local interval = tonumber(ARGV[2 * i - 3])
  local tolerance = tonumber(ARGV[2 * i - 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if tat < start then
    tat = start
  end
  local at = tat - tolerance
  if at - now > wait then
    wait = at - now
  end
  local next_tat = tat + interval
  redis.call('SET', KEYS[i], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
end
return string.format('%.0f', wait)
