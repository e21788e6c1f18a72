import Foundation
import KeelCore
import SQLKit
import XCTest

final class ConventionsTests: XCTestCase {
    func testUnknownRouteAndWrongMethod() async throws {
        try await withApp { api, _ in
            let missing = try await api.get("/api/v1/nothing-here")
            XCTAssertEqual(missing.code, 404)
            XCTAssertEqual(missing.errorCode, "not_found")
            XCTAssertNotNil((missing.json["error"] as? [String: Any])?["request_id"])
            let wrong = try await api.send(.put, "/api/v1/workspace")
            XCTAssertEqual(wrong.code, 405)
            XCTAssertEqual(wrong.errorCode, "method_not_allowed")
            XCTAssertEqual(Set((wrong.header("Allow") ?? "").components(separatedBy: ", ")), ["GET", "PATCH", "DELETE"])
        }
    }

    func testRequestIDIsEchoedWhenSaneAndGeneratedOtherwise() async throws {
        try await withApp { api, _ in
            let echoed = try await api.send(.get, "/health/live", headers: ["X-Request-Id": "abc-123_x.y"])
            XCTAssertEqual(echoed.header("X-Request-Id"), "abc-123_x.y")
            let replaced = try await api.send(.get, "/health/live", headers: ["X-Request-Id": "bad id<script>"])
            XCTAssertTrue(replaced.header("X-Request-Id")?.hasPrefix("req_") ?? false)
        }
    }

    func testStrictJSONDecoding() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let malformed = try await api.send(.post, "/api/v1/invitations", token: s.accessToken, raw: "{\"email\": ")
            XCTAssertEqual(malformed.code, 400)
            XCTAssertEqual(malformed.errorCode, "bad_request")
            let unknown = try await api.post("/api/v1/invitations", token: s.accessToken, json: ["email": "a@b.co", "role": "member", "colour": "red"])
            XCTAssertEqual(unknown.code, 422)
            XCTAssertEqual(unknown.errorDetails.first?["field"] as? String, "colour")
            XCTAssertEqual(unknown.errorDetails.first?["code"] as? String, "unknown_field")
            let wrongType = try await api.post("/api/v1/invitations", token: s.accessToken, json: ["email": 42, "role": "member"])
            XCTAssertEqual(wrongType.code, 422)
            XCTAssertEqual(wrongType.errorDetails.first?["field"] as? String, "email")
            let missing = try await api.post("/api/v1/invitations", token: s.accessToken, json: ["role": "member"])
            XCTAssertEqual(missing.code, 422)
            XCTAssertEqual(missing.errorDetails.first?["code"] as? String, "required")
            let array = try await api.send(.post, "/api/v1/invitations", token: s.accessToken, json: [1, 2])
            XCTAssertEqual(array.code, 422)
            let xml = try await api.send(.post, "/api/v1/invitations", token: s.accessToken, raw: "<a/>", contentType: "application/xml")
            XCTAssertEqual(xml.code, 415)
            XCTAssertEqual(xml.errorCode, "unsupported_media_type")
            // Nothing was written by any of the above.
            let list = try await api.get("/api/v1/invitations", token: s.accessToken)
            XCTAssertEqual(list.items.count, 0)
        }
    }

    func testOversizeBodyIs413BeforeAuthentication() async throws {
        try await withApp({ $0.jsonBodyLimit = 2048 }) { api, _ in
            let big = String(repeating: "x", count: 5000)
            let r = try await api.send(.post, "/api/v1/invitations", token: "not-a-token", raw: "{\"email\":\"\(big)\"}")
            XCTAssertEqual(r.code, 413)
            XCTAssertEqual(r.errorCode, "payload_too_large")
        }
    }

    func testMissingAndMalformedCredentials() async throws {
        try await withApp { api, _ in
            let awaited1 = try await api.get("/api/v1/members").code
            XCTAssertEqual(awaited1, 401)
            let basic = try await api.send(.get, "/api/v1/members", headers: ["Authorization": "Basic Zm9vOmJhcg=="])
            XCTAssertEqual(basic.code, 401)
            let awaited2 = try await api.get("/api/v1/members", token: "keel_live_doesnotexistdoesnotexistdoesnotexist").code
            XCTAssertEqual(awaited2, 401)
            let awaited3 = try await api.get("/api/v1/members", token: "a.b.c").code
            XCTAssertEqual(awaited3, 401)
        }
    }

    func testIdempotencyReplayReuseAndScope() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let key = try await api.createKey(s.accessToken)
            let body: [String: Any] = ["email": "new@example.com", "role": "member"]
            let first = try await api.post("/api/v1/invitations", token: key, json: body, headers: ["Idempotency-Key": "inv-1"])
            XCTAssertEqual(first.code, 201, first.text)
            let replay = try await api.post("/api/v1/invitations", token: key, json: body, headers: ["Idempotency-Key": "inv-1"])
            XCTAssertEqual(replay.code, 201)
            XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
            XCTAssertEqual(replay.data["id"] as? String, first.data["id"] as? String)
            XCTAssertEqual(replay.header("Location"), first.header("Location"))
            let reused = try await api.post("/api/v1/invitations", token: key, json: ["email": "other@example.com", "role": "member"],
                                            headers: ["Idempotency-Key": "inv-1"])
            XCTAssertEqual(reused.code, 422)
            XCTAssertEqual(reused.errorCode, "idempotency_key_reused")
            // 4xx answers are stored too.
            let bad = try await api.post("/api/v1/invitations", token: key, json: ["email": "nope", "role": "member"], headers: ["Idempotency-Key": "inv-2"])
            XCTAssertEqual(bad.code, 422)
            let badAgain = try await api.post("/api/v1/invitations", token: key, json: ["email": "nope", "role": "member"], headers: ["Idempotency-Key": "inv-2"])
            XCTAssertEqual(badAgain.code, 422)
            XCTAssertEqual(badAgain.header("Idempotent-Replayed"), "true")
            // The scope is the credential: the same key string from the user session is a different request.
            let other = try await api.post("/api/v1/invitations", token: s.accessToken, json: ["email": "third@example.com", "role": "member"],
                                           headers: ["Idempotency-Key": "inv-1"])
            XCTAssertEqual(other.code, 201)
            let list = try await api.get("/api/v1/invitations", token: key)
            XCTAssertEqual(list.items.count, 2)
            let invalidKey = try await api.post("/api/v1/invitations", token: key, json: body, headers: ["Idempotency-Key": String(repeating: "k", count: 256)])
            XCTAssertEqual(invalidKey.code, 400)
        }
    }

    /// Fingerprints are versioned ("v2:", bodies written by FastJSON); a claim stored before, with the JSONEncoder fingerprint
    /// and no prefix, must still replay for the same request and refuse a different one until it expires.
    func testIdempotencyClaimsStoredWithTheFirstFingerprintStillMatch() async throws {
        try await withAppAndDatabase { api, db in
            let t = try await api.signup().accessToken
            let body: [String: Any] = ["first_name": "Legacy", "email": "legacy@example.com", "tags": ["b", "a"]]
            let first = try await api.post("/api/v1/contacts", token: t, json: body, headers: ["Idempotency-Key": "old-1"])
            XCTAssertEqual(first.code, 201, first.text)
            let stored = try await db.withSQL { sql in
                try await sql.raw("SELECT fingerprint FROM idempotency_keys WHERE key = 'old-1'").first()?.decode(column: "fingerprint", as: String.self)
            }
            XCTAssertEqual(stored?.hasPrefix("v2:"), true)

            let value = JSONValue.object(["first_name": .string("Legacy"), "email": .string("legacy@example.com"),
                                          "tags": .array([.string("b"), .string("a")])])
            var input = Data("POST /api/v1/contacts?\n".utf8)
            input.append(try KeelJSON.encoder.encode(value))
            let legacy = SecureToken.hex(SecureToken.hmac(key: "idempotency", message: input))
            try await db.withSQL { try await $0.raw("UPDATE idempotency_keys SET fingerprint = \(bind: legacy) WHERE key = 'old-1'").run() }

            let replay = try await api.post("/api/v1/contacts", token: t, json: body, headers: ["Idempotency-Key": "old-1"])
            XCTAssertEqual(replay.code, 201, replay.text)
            XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
            XCTAssertEqual(replay.data["id"] as? String, first.data["id"] as? String)
            var other = body
            other["first_name"] = "Changed"
            let reused = try await api.post("/api/v1/contacts", token: t, json: other, headers: ["Idempotency-Key": "old-1"])
            XCTAssertEqual(reused.code, 422)
            XCTAssertEqual(reused.errorCode, "idempotency_key_reused")
            let count = try await api.get("/api/v1/contacts?include_total=true", token: t).json["total"] as? Int
            XCTAssertEqual(count, 1)
        }
    }

    func testConcurrentRequestsWithOneKeyMakeOneChangeAndShareItsAnswer() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let body = #"{"first_name": "Once", "email": "once@example.com"}"#
            let answers = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await api.send(.post, "/api/v1/contacts", token: t, raw: body, headers: ["Idempotency-Key": "same-key"]) }
                }
                var all: [TestResponse] = []
                for try await r in group { all.append(r) }
                return all
            }
            // The claim is part of the change's transaction, so a second request waits for the first answer instead of
            // getting 409 "in progress" or creating a duplicate.
            XCTAssertEqual(answers.map(\.code), Array(repeating: 201, count: 6), answers.map(\.text).joined(separator: "\n"))
            XCTAssertEqual(Set(answers.compactMap { $0.data["id"] as? String }).count, 1)
            XCTAssertEqual(answers.filter { $0.header("Idempotent-Replayed") == "true" }.count, 5)
            let list = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(RecordFixtures.int(list.json["total"]), 1)
            let events = try await api.get("/api/v1/events?type=contact.created", token: t)
            XCTAssertEqual(events.items.count, 1, "one change, one event")
        }
    }

    func testNULCharactersInBodiesAre422NamingTheFieldAndWriteNothing() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            // Record bodies (kept as JSON values): in a value, nested in an array, and in a key.
            let cases: [(String, String)] = [
                (#"{"first_name": "A\u0000B"}"#, "first_name"),
                (#"{"first_name": "A", "tags": ["ok", "x\u0000"]}"#, "tags[1]"),
                (#"{"first_name": "A", "custom_fields": {"k\u0000": 1}}"#, "custom_fields.k"),
            ]
            for (body, field) in cases {
                let r = try await api.send(.post, "/api/v1/contacts", token: t, raw: body)
                XCTAssertEqual(r.code, 422, body)
                XCTAssertEqual(r.errorCode, "validation_failed", body)
                XCTAssertTrue(r.text.contains("invalid_characters") && r.text.contains(field), "\(body) → \(r.text)")
            }
            // An escaped backslash followed by "u0000" is six ordinary characters, not a NUL: accepted as sent.
            let lookalike = try await api.send(.post, "/api/v1/contacts", token: t, raw: #"{"first_name": "A\\u0000B"}"#)
            XCTAssertEqual(lookalike.code, 201, lookalike.text)
            XCTAssertEqual(lookalike.data["first_name"] as? String, #"A\u0000B"#)
            // Typed bodies (decoded strictly) take the other path through the same check.
            let invite = try await api.send(.post, "/api/v1/invitations", token: t, raw: #"{"email": "a\u0000@example.com", "role": "member"}"#)
            XCTAssertEqual(invite.code, 422, invite.text)
            XCTAssertTrue(invite.text.contains("invalid_characters"), invite.text)
            let contacts = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(RecordFixtures.int(contacts.json["total"]), 1, "nothing was written but the look-alike")
            let invitations = try await api.get("/api/v1/invitations", token: t)
            XCTAssertEqual(invitations.items.count, 0)
        }
    }

    func testRateLimitBurstThenRecovery() async throws {
        try await withApp({ $0.rateLimitRPS = 50; $0.rateLimitBurst = 100 }) { api, _ in
            let s = try await api.signup()
            let key = try await api.createKey(s.accessToken, scopes: ["members:read"])
            var ok = 0, limited = 0
            var sawRetryAfter = false
            for _ in 0..<10_000 {
                let r = try await api.get("/api/v1/members?limit=1", token: key)
                if r.code == 200 { ok += 1 } else if r.code == 429 {
                    limited += 1
                    if !sawRetryAfter {
                        sawRetryAfter = r.header("Retry-After") != nil
                        XCTAssertEqual(r.errorCode, "rate_limited")
                        XCTAssertEqual(r.header("RateLimit-Remaining"), "0")
                    }
                }
            }
            XCTAssertGreaterThanOrEqual(ok, 100)
            XCTAssertGreaterThan(limited, 5000)
            XCTAssertTrue(sawRetryAfter)
            try await Task.sleep(for: .milliseconds(1200))
            let recovered = try await api.get("/api/v1/members?limit=1", token: key)
            XCTAssertEqual(recovered.code, 200)
            XCTAssertEqual(recovered.header("RateLimit-Limit"), "100")
            XCTAssertNotNil(recovered.header("RateLimit-Reset"))
        }
    }

    func testLoginIsLimitedPerEmail() async throws {
        try await withApp({ $0.loginAttemptsPerMinute = 10 }) { api, _ in
            _ = try await api.signup()
            for _ in 0..<10 {
                let awaited4 = try await api.login(email: "owner@example.com", password: "wrong password").code
                XCTAssertEqual(awaited4, 401)
            }
            let limited = try await api.login(email: "owner@example.com", password: "correct horse")
            XCTAssertEqual(limited.code, 429)
        }
    }

    func testScopeIsCheckedBeforeRateLimitAndNotFound() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let key = try await api.createKey(s.accessToken, scopes: ["members:read"])
            let forbidden = try await api.get("/api/v1/audit/logs/aud_01HZZZZZZZZZZZZZZZZZZZZZZZ", token: key)
            XCTAssertEqual(forbidden.code, 403)
            XCTAssertEqual(forbidden.errorDetails.first?["scope"] as? String, "audit:read")
            let wrongPrefix = try await api.get("/api/v1/members/usr_01HZZZZZZZZZZZZZZZZZZZZZZZ", token: key)
            XCTAssertEqual(wrongPrefix.code, 404)
        }
    }

    func testSparseFieldsAndEnvelope() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let me = try await api.get("/api/v1/users/me?fields=email", token: s.accessToken)
            XCTAssertEqual(Set(me.data.keys), ["id", "email"])
            let members = try await api.get("/api/v1/members?fields=role&include_total=false", token: s.accessToken)
            XCTAssertEqual(members.items.first.map { Set($0.keys) }, ["id", "role"])
            XCTAssertEqual(members.json["has_more"] as? Bool, false)
            XCTAssertTrue(members.json.keys.contains("next_cursor"))
            let awaited5 = try await api.get("/api/v1/users/me?fields=", token: s.accessToken).code
            XCTAssertEqual(awaited5, 400)
        }
    }

    func testHealthMetricsAndDocument() async throws {
        try await withApp { api, _ in
            let awaited6 = try await api.get("/health/live").code
            XCTAssertEqual(awaited6, 200)
            let ready = try await api.get("/health/ready")
            XCTAssertEqual(ready.code, 200)
            XCTAssertEqual(ready.json["status"] as? String, "ok")
            let metrics = try await api.get("/metrics")
            XCTAssertTrue(metrics.text.contains("keel_http_requests_total"))
            XCTAssertTrue(metrics.text.contains("route=\"/health/ready\""))
            let doc = try await api.get("/api/v1/openapi.json")
            XCTAssertEqual(doc.code, 200)
            XCTAssertTrue((doc.json["openapi"] as? String)?.hasPrefix("3.1") ?? false)
        }
    }

    func testSQLMetacharactersAreStoredVerbatim() async throws {
        try await withApp { api, _ in
            let nasty = "Robert'); DROP TABLE users;-- \" \\ %_ ?"
            let s = try await api.signup(workspace: nasty)
            let ws = try await api.get("/api/v1/workspace", token: s.accessToken)
            XCTAssertEqual(ws.data["name"] as? String, nasty)
            let renamed = try await api.patch("/api/v1/users/me", token: s.accessToken, json: ["name": nasty])
            XCTAssertEqual(renamed.data["name"] as? String, nasty)
            let awaited7 = try await api.login(email: "owner@example.com").code
            XCTAssertEqual(awaited7, 200)
        }
    }
}
