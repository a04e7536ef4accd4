-- wrk script for bench/overload.py: the flood. Each connection POSTs the :predict body in
-- $BODY_FILE, then waits about $DELAY_MS before its next request, so C connections offer about
-- C * 1000 / DELAY_MS requests/s while answers are quick (a 429 is); a connection whose request was
-- admitted waits for its answer first, which overload.py makes up for with more connections and
-- reports as the rate actually offered. Counts every status, 200s whose body lacks the expected
-- label ($EXPECTED_LABEL) and 429s without a numeric Retry-After; done() prints one JSON line.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()
local path = assert(os.getenv("PREDICT_PATH"))
local expected = '"label":"' .. assert(os.getenv("EXPECTED_LABEL")) .. '"'
local delay_ms = tonumber(assert(os.getenv("DELAY_MS")))

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local req
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
  statuses = {}
  wrong = 0
  no_retry_after = 0
  local headers = {["Content-Type"] = "application/json"}
  if os.getenv("TESSERA_API_KEY") then
    headers["Authorization"] = "Bearer " .. os.getenv("TESSERA_API_KEY")
  end
  req = wrk.format("POST", path, headers, body)
end

function request()
  return req
end

-- Uniform in [0, 2 * DELAY_MS]: the same mean, but connections drift apart, so requests arrive
-- spread out instead of in one burst per period.
function delay()
  return math.random(0, 2 * delay_ms)
end

function response(status, headers, response_body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 and not string.find(response_body, expected, 1, true) then
    wrong = wrong + 1
  elseif status == 429 then
    local retry = headers["Retry-After"] or headers["retry-after"]
    if not retry or not string.match(retry, "^%d+$") then
      no_retry_after = no_retry_after + 1
    end
  end
end

function done(summary, latency, requests)
  local total, wrong_total, no_retry_total = {}, 0, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
    wrong_total = wrong_total + thread:get("wrong")
    no_retry_total = no_retry_total + thread:get("no_retry_after")
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  io.write(string.format(
    '{"statuses":{%s},"wrong":%d,"no_retry_after":%d,"duration_s":%.3f,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_ms":%.2f,"p99_ms":%.2f}\n',
    table.concat(parts, ","), wrong_total, no_retry_total, summary.duration / 1e6,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
