-- GET /api/v1/pipelines/{default pipeline}/stages: the stages with their deal counts and value sums (an aggregate
-- over the pipeline's deals on every request).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("GET", "/api/v1/pipelines/" .. bench.read_file("pipeline_id") .. "/stages")
bench.install()
