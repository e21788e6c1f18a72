-- POST /api/v1/contacts/search: owner_id = <the seeded owner> AND lifecycle_stage IN (customer, lead),
-- sorted by -created_at, limit 50 (the filter-tree path).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

bench.static("POST", "/api/v1/contacts/search", bench.read_file("contact_search.json"))
bench.install()
