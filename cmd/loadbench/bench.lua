-- The wrk script of `make bench` (cmd/loadbench runs it as
-- `wrk -t2 -c32 -d10s -s cmd/loadbench/bench.lua URL`).
--
-- BENCH_MODE picks the request; BENCH_DATA names a file of one line per
-- caller, which the requests take in turn:
--   list    GET /books                 line: an access token
--   get     GET /books/{id}            line: an access token, a space, a book id
--   create  POST /books (JSON)         line: an access token
--   login   POST /auth/login (JSON)    line: the JSON credentials
-- done() prints one line, "BENCH {json}", that loadbench reads.

local mode = os.getenv("BENCH_MODE")
local lines = {}
for line in io.lines(os.getenv("BENCH_DATA")) do
    lines[#lines + 1] = line
end

local counter = 0
function setup(thread)
    -- Runs in the main Lua state, once per thread: number the threads so
    -- their requests spread over the callers and their titles differ.
    counter = counter + 1
    thread:set("tid", counter)
end

local n = 0
function request()
    n = n + 1
    local line = lines[(n + tid * 7919) % #lines + 1]
    if mode == "list" then
        return wrk.format("GET", "/books", { Authorization = "Bearer " .. line })
    elseif mode == "get" then
        local token, id = line:match("^(%S+) (%S+)$")
        return wrk.format("GET", "/books/" .. id, { Authorization = "Bearer " .. token })
    elseif mode == "create" then
        local body = string.format(
            '{"title":"Benchmark Book wrk %d-%d","author":"Ada Benchmark","publisher":"Loopback Press","price_cents":%d,"published_year":2001}',
            tid, n, 100 + n % 100000)
        return wrk.format("POST", "/books",
            { Authorization = "Bearer " .. line, ["Content-Type"] = "application/json" }, body)
    elseif mode == "login" then
        return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, line)
    end
    error("unknown BENCH_MODE " .. tostring(mode))
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH {"requests":%.0f,"duration_us":%.0f,"socket_errors":%.0f,"non2xx":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
        summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
        latency:percentile(50), latency:percentile(99), latency.max))
end
