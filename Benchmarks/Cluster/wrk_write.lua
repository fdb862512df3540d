-- wrk script: concurrent replicated writes, one per request, each with a distinct name.
--   SYSTEM=warren: POST /v1/tunnels {"name","duration":"24h"} with Authorization: Bearer
--                  $WARREN_TOKEN; success = 201.
--   SYSTEM=etcd:   POST /v3/kv/put of a 256-byte value (JSON gateway); success = 200.
-- PREFIX names the run. Prints one JSON line at the end (latencies in microseconds), with
-- the first unexpected answer (status and body) of each thread so errors are never hidden.

local threads = {}
local next_id = 0

local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local v = math.floor(n / 64 ^ k) % 64
      chars[#chars + 1] = b64chars:sub(v + 1, v + 1)
    end
    if not b then chars[3], chars[4] = '=', '=' elseif not c then chars[4] = '=' end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  system = os.getenv("SYSTEM") or "etcd"
  prefix = os.getenv("PREFIX") or "c"
  token = os.getenv("WARREN_TOKEN") or ""
  value = b64(string.rep("v", 256))
  counter = 0
  bad = 0
  first_bad = ""
end

function request()
  counter = counter + 1
  if system == "warren" then
    local body = string.format('{"name":"%s-%d-%08d","duration":"24h"}', prefix, tid, counter)
    return wrk.format("POST", "/v1/tunnels",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
  end
  local key = b64(string.format("%s/%d/%09d", prefix, tid, counter))
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" },
    '{"key":"' .. key .. '","value":"' .. value .. '"}')
end

function response(status, headers, body)
  local ok
  if system == "warren" then
    ok = status == 201 and body:find('"tunnel"', 1, true)
  else
    ok = status == 200 and body:find('"header"', 1, true)
  end
  if not ok then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. body:sub(1, 300) end
  end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local bad_total, firsts = 0, {}
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
    local f = t:get("first_bad")
    if f and f ~= "" then firsts[#firsts + 1] = json_string(f) end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"secs":%.3f,"ops_per_s":%.1f,"bad_replies":%d,"socket_errors":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"errors_status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"first_bad":[%s]}\n',
    summary.requests, secs, summary.requests / secs, bad_total,
    e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(firsts, ",")))
end
