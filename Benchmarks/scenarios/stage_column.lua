-- GET /api/v1/deals?stage_id=<open stage>&status=open&limit=25: one kanban column, the open stage of the default
-- pipeline with the most deals (picked by lib/prepare.py from the stage totals).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("GET", "/api/v1/deals?" .. bench.read_file("stage_column_query"))
bench.install()
