-- wrk script: 80% reads, 15% updates, 5% registrations; prints counts per kind and latency.
-- Environment: PHIGATE_READ_TOKEN (a physician), PHIGATE_WRITE_TOKEN (front desk),
-- PHIGATE_READ_IDS and PHIGATE_WRITE_IDS (comma-separated patient ids), PHIGATE_RUN (a tag
-- that makes this run's MRNs unique), PHIGATE_READ_QUERY (the read's GraphQL text).
--
-- Each thread updates only its own share of the write patients, one request at a time per
-- patient, naming the version the previous update returned: there are no version races. The
-- update's response key is `u<slot>`, so even an error names the patient it was for.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

local function split(text)
  local out = {}
  for item in string.gmatch(text, "[^,]+") do table.insert(out, item) end
  return out
end

function init(args)
  reads_ok, updates_ok, registers_ok, errors, conflicts, counter, read_next = 0, 0, 0, 0, 0, 0, 0
  read_headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("PHIGATE_READ_TOKEN"),
  }
  write_headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("PHIGATE_WRITE_TOKEN"),
  }
  read_ids = split(os.getenv("PHIGATE_READ_IDS"))
  read_query = os.getenv("PHIGATE_READ_QUERY")
  run = os.getenv("PHIGATE_RUN")
  -- This thread's share of the write patients: every PHIGATE_THREADS-th one.
  slots, free = {}, {}
  local all = split(os.getenv("PHIGATE_WRITE_IDS"))
  local total = tonumber(os.getenv("PHIGATE_THREADS"))
  for i = thread_id, #all, total do
    table.insert(slots, { id = all[i], version = 1 })
    table.insert(free, #slots)
  end
end

local function read()
  read_next = read_next % #read_ids + 1
  local id = read_ids[read_next]
  local body = string.format('{"query":"%s","variables":{"id":"%s"}}', read_query, id)
  return wrk.format("POST", "/graphql", read_headers, body)
end

local function update()
  local slot = table.remove(free)
  if slot == nil then return nil end
  local patient = slots[slot]
  local body = string.format(
    '{"query":"mutation($id: ID!, $version: Int!, $phone: String!) { u%d: updatePatient(' ..
    'id: $id, version: $version, input: {phone: $phone}, reason: \\"load test\\") { id version } }",' ..
    '"variables":{"id":"%s","version":%d,"phone":"217-555-%04d"}}',
    slot, patient.id, patient.version, counter % 10000)
  return wrk.format("POST", "/graphql", write_headers, body)
end

local function register()
  local body = string.format(
    '{"query":"mutation($input: RegisterPatientInput!) { c: registerPatient(input: $input) ' ..
    '{ id version } }","variables":{"input":{"mrn":"L%s%d-%d","givenName":"Load",' ..
    '"familyName":"Test","birthDate":"1980-02-29","phone":"312-555-%04d",' ..
    '"email":"load%d@example.org","city":"Springfield","zip":"62701"}}}',
    run, thread_id, counter, counter % 10000, counter)
  return wrk.format("POST", "/graphql", write_headers, body)
end

function request()
  counter = counter + 1
  local kind = counter % 20
  if kind < 16 then return read() end
  if kind < 19 then
    local r = update()
    if r ~= nil then return r end
  end
  return register()
end

function response(status, headers, body)
  local slot = tonumber(string.match(body, '"u(%d+)":{'))
  if string.find(body, '"errors"', 1, true) or status ~= 200 then
    errors = errors + 1
    if string.find(body, '"CONFLICT"', 1, true) then conflicts = conflicts + 1 end
    return -- an update's patient stays out of the pool: its version is unknown now
  end
  if slot ~= nil then
    slots[slot].version = tonumber(string.match(body, '"version":(%d+)'))
    table.insert(free, slot)
    updates_ok = updates_ok + 1
  elseif string.find(body, '"c":{', 1, true) then
    registers_ok = registers_ok + 1
  else
    reads_ok = reads_ok + 1
  end
end

function done(summary, latency, requests)
  local totals = { reads_ok = 0, updates_ok = 0, registers_ok = 0, errors = 0, conflicts = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do totals[name] = totals[name] + thread:get(name) end
  end
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f non2xx=%d " ..
    "socket_errors=%d reads=%d updates=%d registers=%d graphql_errors=%d conflicts=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.errors.status, socket,
    totals.reads_ok, totals.updates_ok, totals.registers_ok, totals.errors, totals.conflicts))
end
