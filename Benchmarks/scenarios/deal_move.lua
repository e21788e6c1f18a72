-- POST /api/v1/deals/{id}/move {"stage_id": ...}: open deals of the default pipeline moved back and forth between two
-- neighbouring open stages (lib/prepare.py picks them and the deals: deal_moves.txt, "<deal> <its stage> <other stage>").
-- Every request is a real move (stage history row, deal update, audit entry and outbox event in one transaction).
--
-- Each wrk thread owns its own share of the deals (every bench.threads-th line), and within a thread a deal with a
-- request in flight is not picked again until its answer is back, so no two connections ever move the same deal at
-- once. Where a deal is comes from each 2xx answer's stage_id; after the run, done() writes the positions back into
-- deal_moves.txt so that the next run (warm-up, then each connection count) starts from where the deals are.
-- Any non-2xx answer counts as an error (no If-Match is sent, so a 409/412 would be a server-side conflict).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

local FILE = "deal_moves.txt"

local function load()
    local out = {}
    for _, line in ipairs(bench.read_lines(FILE)) do
        local id, here, other = line:match("^(%S+)%s+(%S+)%s+(%S+)$")
        if id then out[#out + 1] = { id = id, here = here, other = other } end
    end
    assert(#out > 0, "deal_move: " .. FILE .. " has no deals")
    return out
end

local mine, other, busy, next_i = {}, {}, {}, 0

local function init()
    deal_at = {} -- global, read by done() through thread:get: the stage each of this thread's deals is in
    local all = load()
    for i, d in ipairs(all) do
        if #all < bench.threads or (i - 1) % bench.threads == tid - 1 then
            mine[#mine + 1] = d.id
            deal_at[d.id] = d.here
            other[d.id] = { d.here, d.other }
        end
    end
    local per_thread = math.ceil(tonumber(os.getenv("BENCH_CONNECTIONS") or "1") / bench.threads)
    if #mine < per_thread then
        io.stderr:write(string.format("deal_move: thread %d has %d deals for %d connections: some deals are moved "
            .. "by two connections at once\n", tid, #mine, per_thread))
    end
end

function request()
    local n, d = #mine, nil
    for _ = 1, n do
        next_i = next_i % n + 1
        if not busy[mine[next_i]] then d = mine[next_i]; break end
    end
    if not d then next_i = next_i % n + 1; d = mine[next_i] end -- all in flight (or stuck after an error): share
    local pair = other[d]
    local target = (deal_at[d] == pair[1]) and pair[2] or pair[1]
    deal_at[d] = target -- until the answer says otherwise
    busy[d] = true
    return wrk.format("POST", "/api/v1/deals/" .. d .. "/move", bench.headers(true), '{"stage_id":"' .. target .. '"}')
end

local function on_response(status, headers, body)
    if not body then return end
    local id = body:match('"id"%s*:%s*"(deal_[%w]+)"')
    if not id or busy[id] == nil then return end
    busy[id] = nil
    if status >= 200 and status <= 299 then
        local stage = body:match('"stage_id"%s*:%s*"([%w_]+)"')
        if stage then deal_at[id] = stage end
    end
end

-- In wrk's main Lua state: merge what the threads know and rewrite deal_moves.txt for the next run.
local function on_done(threads)
    local at = {}
    for _, t in ipairs(threads) do
        for id, stage in pairs(t:get("deal_at") or {}) do at[id] = stage end
    end
    local ok, all = pcall(load)
    if not ok then return end
    local lines = {}
    for _, d in ipairs(all) do
        local here = at[d.id] or d.here
        local there = (here == d.here) and d.other or d.here
        lines[#lines + 1] = d.id .. " " .. here .. " " .. there
    end
    local f = io.open(bench.data_dir .. "/" .. FILE, "w")
    if f then f:write(table.concat(lines, "\n") .. "\n"); f:close() end
end

bench.install{ init = init, response = on_response, done = on_done }
