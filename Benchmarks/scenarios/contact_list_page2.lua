-- The contact_list query continued with page 1's next_cursor (fetched beforehand): a later page must be as fast
-- as the first (keyset pagination, no OFFSET).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("GET", "/api/v1/contacts?" .. bench.read_file("contact_list_query") .. "&cursor=" .. bench.read_file("contact_list_cursor"))
bench.install()
