-- Shared helpers for the wrk scenarios in Benchmarks/scenarios/ (LuaJIT, as embedded in wrk).
--
-- A scenario file starts with
--     package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
--     local bench = require("bench")
-- and then either calls bench.static(method, path, body) for a request that never changes, or defines
-- request() (building each request with wrk.format and bench.headers()) and, if it needs per-thread state,
-- passes an init function: bench.install{ init = function(args) ... end }. Two more optional hooks:
-- `response = function(status, headers, body)` (per thread, after the counting) and `done = function(threads)` (in
-- wrk's main Lua state after the run, before the result line; `threads` are wrk's thread objects, read their
-- globals with t:get(name)).
--
-- bench.install() defines wrk's setup/init/response/done: it numbers the threads (global `tid`, from 1), seeds
-- math.random per thread, counts non-2xx answers per status code (keeping one sample body) and, in done(), prints
-- one line "BENCH_RESULT {json}" with requests/s, latency percentiles (ms) and the error counts.
--
-- Environment (set by run.sh): BENCH_DATA_DIR (files written by lib/prepare.py), BENCH_NONCE (unique per wrk run,
-- for unique e-mails and idempotency keys; short, hex: an e-mail's local part is at most 64 characters),
-- BENCH_SCENARIO, BENCH_CONNECTIONS, BENCH_THREADS (wrk's -t: `tid` runs from 1 to bench.threads).

local M = {}

M.data_dir = os.getenv("BENCH_DATA_DIR") or "."
M.nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
M.threads = tonumber(os.getenv("BENCH_THREADS") or "1") or 1

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- The trimmed contents of a data file (error if it is missing).
function M.read_file(name)
    local path = M.data_dir .. "/" .. name
    local f = assert(io.open(path, "r"), "bench.lua: cannot open " .. path)
    local s = f:read("*a")
    f:close()
    return trim(s)
end

-- The non-empty lines of a data file, as an array.
function M.read_lines(name)
    local out = {}
    for line in (M.read_file(name) .. "\n"):gmatch("([^\n]*)\n") do
        line = trim(line)
        if line ~= "" then out[#out + 1] = line end
    end
    assert(#out > 0, "bench.lua: " .. name .. " has no lines")
    return out
end

M.api_key = M.read_file("api_key")

-- Headers of an API request: the bearer token, plus a JSON content type when there is a body, plus `extra`.
function M.headers(with_body, extra)
    local h = { ["Authorization"] = "Bearer " .. M.api_key }
    if with_body then h["Content-Type"] = "application/json" end
    for k, v in pairs(extra or {}) do h[k] = v end
    return h
end

-- A request that is the same every time: wrk builds it once (no Lua per request).
function M.static(method, path, body, opts)
    wrk.method = method
    wrk.path = path
    wrk.body = body
    local auth = not (opts and opts.auth == false)
    if auth then
        wrk.headers["Authorization"] = "Bearer " .. M.api_key
    end
    if body then wrk.headers["Content-Type"] = "application/json" end
end

-- A random element of an array (math.random is seeded per thread).
function M.pick(list) return list[math.random(#list)] end

local function json_string(s)
    s = tostring(s):gsub('[%c"\\]', function(c)
        if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
        return string.format("\\u%04x", c:byte())
    end)
    return '"' .. s .. '"'
end
M.json_string = json_string

local function json_encode(v)
    local t = type(v)
    if t == "table" then
        local parts = {}
        for k, x in pairs(v) do parts[#parts + 1] = json_string(k) .. ":" .. json_encode(x) end
        table.sort(parts)
        return "{" .. table.concat(parts, ",") .. "}"
    elseif t == "number" then
        if v ~= v or v == math.huge or v == -math.huge then return "null" end
        return (string.format("%.3f", v):gsub("0+$", ""):gsub("%.$", ""))
    elseif t == "boolean" then
        return tostring(v)
    elseif v == nil then
        return "null"
    end
    return json_string(v)
end

function M.install(opts)
    opts = opts or {}
    local threads, count = {}, 0

    function setup(thread)
        count = count + 1
        thread:set("tid", count)
        threads[#threads + 1] = thread
    end

    function init(args)
        tid = tid or 1
        math.randomseed(tid * 7919 + os.time())
        non2xx = {}
        sample = nil
        if opts.init then opts.init(args) end
    end

    function response(status, headers, body)
        if status < 200 or status > 299 then
            local k = tostring(status)
            non2xx[k] = (non2xx[k] or 0) + 1
            if not sample then sample = k .. " " .. string.sub(body or "", 1, 300) end
        end
        if opts.response then opts.response(status, headers, body) end
    end

    function done(summary, latency, requests)
        if opts.done then opts.done(threads) end
        local codes, total_non2xx, first_sample = {}, 0, nil
        for _, t in ipairs(threads) do
            for k, n in pairs(t:get("non2xx") or {}) do
                codes[k] = (codes[k] or 0) + n
                total_non2xx = total_non2xx + n
            end
            first_sample = first_sample or t:get("sample")
        end
        local e = summary.errors
        local socket_errors = e.connect + e.read + e.write + e.timeout
        local secs = summary.duration / 1e6
        local ms = function(p) return latency:percentile(p) / 1000 end
        local out = {
            scenario = os.getenv("BENCH_SCENARIO") or "?",
            connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "0"),
            duration_s = secs,
            requests = summary.requests,
            rps = summary.requests / secs,
            p50_ms = ms(50), p90_ms = ms(90), p99_ms = ms(99),
            mean_ms = latency.mean / 1000, max_ms = latency.max / 1000,
            non2xx = total_non2xx,
            status_counts = codes,
            socket_errors = { connect = e.connect, read = e.read, write = e.write, timeout = e.timeout },
            errors = total_non2xx + socket_errors,
            error_sample = first_sample,
        }
        io.write("BENCH_RESULT " .. json_encode(out) .. "\n")
    end
end

return M
