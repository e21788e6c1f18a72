-- GET /api/v1/deals/{id}/timeline with a random id out of ~1000 sampled deals: field history, stage moves, linked
-- activities and the other timeline sources, merged and sorted (first page).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

local ids
bench.install{ init = function() ids = bench.read_lines("deal_ids.txt") end }

function request()
    return wrk.format("GET", "/api/v1/deals/" .. bench.pick(ids) .. "/timeline", bench.headers())
end
