-- GET /health/live: no auth, no database. The framework's ceiling on this machine; every other scenario's
-- req/s and p50 are also reported as a ratio to this one, measured in the same run.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("GET", "/health/live", nil, { auth = false })
bench.install()
