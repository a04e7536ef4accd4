-- wrk script for bench/serve_bench.sh: POSTs the request body in $BODY_FILE (a Vertex :predict
-- JSON with one base64 image) and counts non-200 answers.
--
-- Throughput at saturation is measured in a window, from WINDOW_START_S to WINDOW_START_S +
-- WINDOW_SECONDS after the run starts, as the slope of a least-squares line through the 200
-- answers' cumulative count against their arrival times. wrk's own Requests/sec divides every
-- answer by the whole run, whose first seconds are the pipeline filling up (with ViT-B/16, 1.4 s
-- per batch of 8, that alone read ~7% slow in a 12 s run); and counting answers in the window
-- moves by a whole batch (8 answers, 7% of a 20 s window) with where its edges fall.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } tessera_timespec;
  int clock_gettime(int clock_id, tessera_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("tessera_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
if os.getenv("TESSERA_API_KEY") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TESSERA_API_KEY")
end

local window_start = tonumber(os.getenv("WINDOW_START_S") or "0")
local window_seconds = tonumber(os.getenv("WINDOW_SECONDS") or "0")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local started = 0
-- Sums for the least-squares slope of count against time: n, sum t, sum k, sum t^2, sum t*k.
fit_n, fit_t, fit_k, fit_tt, fit_tk = 0, 0, 0, 0, 0

function init(args)
  started = now()
end

function response(status, headers, body)
  local t = now() - started
  if status == 200 and t >= window_start and t < window_start + window_seconds then
    fit_n = fit_n + 1
    local k = fit_n
    fit_t, fit_k = fit_t + t, fit_k + k
    fit_tt, fit_tk = fit_tt + t * t, fit_tk + t * k
  end
end

function done(summary, latency, requests)
  if window_seconds <= 0 then return end
  local answers, rate = 0, 0
  for _, thread in ipairs(threads) do
    local n, t, k = thread:get("fit_n"), thread:get("fit_t"), thread:get("fit_k")
    local tt, tk = thread:get("fit_tt"), thread:get("fit_tk")
    answers = answers + n
    local variance = n * tt - t * t
    if n >= 2 and variance > 0 then rate = rate + (n * tk - t * k) / variance end
  end
  io.write(string.format("Window: %d answers in %.1fs: %.3f/s\n", answers, window_seconds, rate))
end
