-- POST /api/v1/contacts: a new contact with a unique e-mail and a unique Idempotency-Key per request (the write
-- path: one transaction with the row, the audit entry and the outbox event, plus the idempotency record).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("bench")

local owner, n = nil, 0
bench.install{ init = function() owner = bench.read_file("owner_id") end }

function request()
    n = n + 1
    local key = bench.nonce .. "-" .. tid .. "-" .. n
    local body = '{"first_name":"Load","last_name":"Test ' .. n .. '","email":"load-' .. key .. '@bench.example.com",'
        .. '"lifecycle_stage":"lead","owner_id":"' .. owner .. '"}'
    return wrk.format("POST", "/api/v1/contacts", bench.headers(true, { ["Idempotency-Key"] = "bench-" .. key }), body)
end
