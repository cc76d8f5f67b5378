-- wrk script for bench.py case 8: every request asks another window (its `to` moves back a millisecond each
-- time, unique across threads), so every answer is a cache miss. Parameters come from the environment:
-- FT_PATH (a format with two %.3f: from, to), FT_TO (Unix seconds), FT_SPAN (seconds).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
local fmt = os.getenv("FT_PATH")
local base = tonumber(os.getenv("FT_TO"))
local span = tonumber(os.getenv("FT_SPAN"))

function request()
  counter = counter + 1
  local to = base - (counter * 16 + tid) * 0.001
  return wrk.format("GET", string.format(fmt, to - span, to))
end
