-- GET /api/v1/contacts?limit=50&sort=-created_at&lifecycle_stage=customer: page 1 of a filtered, sorted list.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("GET", "/api/v1/contacts?" .. bench.read_file("contact_list_query"))
bench.install()
