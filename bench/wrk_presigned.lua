-- Replays pre-signed requests (each with its own webhook-id) so that every event is new.
-- The file named by FAREWELL_BENCH_REQUESTS returns {path = ..., requests = {{headers, body}, ...}}.
local data = dofile(os.getenv("FAREWELL_BENCH_REQUESTS"))
local threads = tonumber(os.getenv("FAREWELL_BENCH_THREADS"))
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local sent = 0
function request()
  -- Threads take interleaved slots so no two threads send the same request.
  local index = (thread_id + sent * threads) % #data.requests + 1
  sent = sent + 1
  local r = data.requests[index]
  return wrk.format("POST", data.path, r.headers, r.body)
end
