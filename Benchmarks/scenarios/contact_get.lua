-- GET /api/v1/contacts/{id} with a random id out of ~1000 sampled ones (auth, one indexed row, rendering).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

local ids
bench.install{ init = function() ids = bench.read_lines("contact_ids.txt") end }

function request()
    return wrk.format("GET", "/api/v1/contacts/" .. bench.pick(ids), bench.headers())
end
