-- GET /api/v1/deals/{id} with a random id out of ~1000 sampled deals of every pipeline and status (auth, one indexed
-- row plus its contact links, rendering).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

local ids
bench.install{ init = function() ids = bench.read_lines("deal_ids.txt") end }

function request()
    return wrk.format("GET", "/api/v1/deals/" .. bench.pick(ids), bench.headers())
end
