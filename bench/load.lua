-- wrk script for the Scorelet benchmarks: cycles through prepared requests and
-- counts answers by status, so the bench can check every acknowledgement.
--
--   wrk -s bench/load.lua URL -- REQUESTS_FILE
--
-- REQUESTS_FILE has one line per header ("H<TAB>name<TAB>value", sent with every
-- request) and one per request ("R<TAB>METHOD<TAB>PATH<TAB>BODY", body may be empty).
-- done() prints one line, "RESULT {json}", for bench/run.py to parse.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers, specs = {}, {}
  for line in io.lines(args[1]) do
    local kind, a, b, c = line:match("^(%a)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    if kind == "H" then
      headers[a] = b
    elseif kind == "R" then
      table.insert(specs, {a, b, c})
    end
  end
  prepared = {}
  for i, spec in ipairs(specs) do
    local body = spec[3] ~= "" and spec[3] or nil
    prepared[i] = wrk.format(spec[1], spec[2], headers, body)
  end
  counter = 0
  ok, not_modified, other = 0, 0, 0
end

function request()
  counter = counter + 1
  if counter > #prepared then
    counter = 1
  end
  return prepared[counter]
end

function response(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  elseif status >= 200 and status < 300 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local sums = {ok = 0, not_modified = 0, other = 0}
  for _, thread in ipairs(threads) do
    sums.ok = sums.ok + thread:get("ok")
    sums.not_modified = sums.not_modified + thread:get("not_modified")
    sums.other = sums.other + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "ok": %d, "not_modified": %d, "other": %d, '
      .. '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, sums.ok, sums.not_modified, sums.other,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
