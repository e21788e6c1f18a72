-- GET /api/v1/pipelines/{default pipeline}/board?per_stage=25: the whole kanban board, every stage with its totals
-- and its first 25 open deals.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("GET", "/api/v1/pipelines/" .. bench.read_file("pipeline_id") .. "/board?per_stage=25")
bench.install()
