-- wrk script: POST one GraphQL query with a session token; prints p50/p95/p99 and errors.
-- Reads PHIGATE_TOKEN and PHIGATE_QUERY_JSON from the environment; or, with PHIGATE_IDS
-- (comma-separated patient ids) and PHIGATE_QUERY (a query of one `$id`, no double quotes),
-- asks for each of those patients in turn.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("PHIGATE_TOKEN")
wrk.body = os.getenv("PHIGATE_QUERY_JSON")

local ids = os.getenv("PHIGATE_IDS")
if ids then
  local list, query, n = {}, os.getenv("PHIGATE_QUERY"), 0
  for id in string.gmatch(ids, "[^,]+") do table.insert(list, id) end
  function request()
    n = n % #list + 1
    local body = string.format('{"query":"%s","variables":{"id":"%s"}}', query, list[n])
    return wrk.format(nil, nil, nil, body)
  end
end

function done(summary, latency, requests)
  local non_ok = summary.errors.status
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, non_ok, socket))
end
