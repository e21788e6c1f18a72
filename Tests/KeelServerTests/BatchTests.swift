import Foundation
import KeelCore
import XCTest

final class BatchTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    static func status(_ r: TestResponse) -> [Int] { r.items.compactMap { R.int($0["status"]) } }
    static func errorCode(_ item: [String: Any]) -> String? { (item["error"] as? [String: Any])?["code"] as? String }

    func testMixedOperationsReportPerItemAndDoNotRollBackEachOther() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let existing = try await R.contact(api, t, ["first_name": "Existing", "email": "existing@example.com"])
            let doomed = try await R.contact(api, t, ["first_name": "Doomed"])
            let versioned = try await R.contact(api, t, ["first_name": "Versioned"])
            let r = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": [
                ["op": "create", "data": ["first_name": "New One", "email": " NEW@example.com "]],          // 0 ok
                ["op": "create", "data": ["first_name": "Bad", "email": "not-an-email"]],                  // 1 422
                ["op": "update", "id": existing, "data": ["title": "Updated"]],                            // 2 ok
                ["op": "update", "id": R.fakeID("con"), "data": ["title": "Nobody"]],                     // 3 404
                ["op": "delete", "id": doomed],                                                            // 4 ok
                ["op": "delete", "id": doomed],                                                            // 5 404 (already deleted)
                ["op": "update", "id": versioned, "data": ["title": "Stale", "version": 9]],               // 6 409
                ["op": "create", "data": ["first_name": "Dup", "email": "existing@example.com"]],          // 7 409 duplicate
                ["op": "update", "id": existing, "data": ["nickname": "x"]],                               // 8 422
                ["op": "create", "data": ["first_name": String(repeating: "x", count: 300)]],              // 9 422
            ]])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.items.compactMap { R.int($0["index"]) }, Array(0..<10), "one result per operation, in order")
            XCTAssertEqual(BatchTests.status(r), [201, 422, 200, 404, 204, 404, 409, 409, 422, 422], r.text)
            let items = r.items
            XCTAssertEqual((items[0]["data"] as? [String: Any])?["email"] as? String, "new@example.com")
            XCTAssertNil(items[0]["error"])
            XCTAssertEqual(BatchTests.errorCode(items[1]), "validation_failed")
            XCTAssertNil(items[1]["data"])
            let d1 = ((items[1]["error"] as? [String: Any])?["details"] as? [[String: Any]]) ?? []
            XCTAssertEqual(d1.first?["field"] as? String, "email")
            XCTAssertEqual((items[2]["data"] as? [String: Any])?["title"] as? String, "Updated")
            XCTAssertEqual(R.int((items[2]["data"] as? [String: Any])?["version"]), 2)
            XCTAssertEqual(BatchTests.errorCode(items[3]), "not_found")
            XCTAssertNil(items[4]["data"])
            XCTAssertNil(items[4]["error"])
            XCTAssertEqual(BatchTests.errorCode(items[6]), "version_conflict")
            XCTAssertEqual(BatchTests.errorCode(items[7]), "duplicate")
            let d7 = ((items[7]["error"] as? [String: Any])?["details"] as? [[String: Any]]) ?? []
            XCTAssertEqual(d7.first?["existing_id"] as? String, existing)
            XCTAssertEqual(BatchTests.errorCode(items[9]), "validation_failed")

            // Successes were kept, failures wrote nothing.
            let list = try await api.get("/api/v1/contacts?limit=200", token: t)
            let names = Set(list.items.compactMap { $0["first_name"] as? String })
            XCTAssertEqual(names, ["Existing", "Versioned", "New One"], list.text)
            let v = try await R.get(api, t, "contacts", versioned)
            XCTAssertEqual(R.int(v["version"]), 1)
            XCTAssertTrue(R.isNull(v["title"]))
            R.assertError(try await api.get("/api/v1/contacts/\(doomed)", token: t), 404, "not_found", "deleted in batch")
            // Each successful item is audited like a single write.
            let created = try await R.audit(api, t, "action=contact.created")
            XCTAssertEqual(created.count, 4, "three set-up creates + one batch create")
            let deleted = try await R.audit(api, t, "action=contact.deleted")
            XCTAssertEqual(deleted.compactMap { $0["object_id"] as? String }, [doomed])
        }
    }

    func testLaterItemsSeeEarlierOnes() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let r = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": [
                ["op": "create", "data": ["first_name": "A", "email": "same@example.com"]],
                ["op": "create", "data": ["first_name": "B", "email": "SAME@example.com"]],
            ]])
            XCTAssertEqual(BatchTests.status(r), [201, 409], r.text)
            let firstID = (r.items.first?["data"] as? [String: Any])?["id"] as? String
            let d = ((r.items.last?["error"] as? [String: Any])?["details"] as? [[String: Any]]) ?? []
            XCTAssertEqual(d.first?["existing_id"] as? String, firstID, "the duplicate names the record created earlier in the same batch")
            // Companies: batch works per object type.
            let c = try await api.post("/api/v1/companies/batch", token: t, json: ["operations": [
                ["op": "create", "data": ["name": "Acme", "domain": "acme.com"]],
                ["op": "create", "data": ["name": "Acme Again", "domain": "www.acme.com"]],
                ["op": "create", "data": ["domain": "nameless.com"]],
            ]])
            XCTAssertEqual(c.code, 200, c.text)
            XCTAssertEqual(BatchTests.status(c), [201, 409, 422])
        }
    }

    func testBatchLimitsAndShape() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let empty = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": []])
            R.assertError(empty, 422, "validation_failed", field: "operations", "empty batch")
            let tooMany = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": (0..<101).map { ["op": "create", "data": ["first_name": "N\($0)"]] }])
            R.assertError(tooMany, 422, "validation_failed", field: "operations", "101 operations")
            let none = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(none.json["total"]), 0, "a refused batch runs nothing")
            let hundred = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": (0..<100).map { ["op": "create", "data": ["first_name": "N\($0)"]] }])
            XCTAssertEqual(hundred.code, 200, hundred.text.prefix(300).description)
            XCTAssertEqual(BatchTests.status(hundred), Array(repeating: 201, count: 100))
            let all = try await api.get("/api/v1/contacts?include_total=true&limit=1", token: t)
            XCTAssertEqual(R.int(all.json["total"]), 100)

            let badOp = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": [["op": "upsert", "data": ["first_name": "X"]]]])
            R.assertError(badOp, 422, "validation_failed", field: "operations[0].op", "unknown op")
            let shapes = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": [
                ["op": "create"], ["op": "update", "data": ["title": "x"]], ["op": "update", "id": R.fakeID("con")], ["op": "delete"],
                ["op": "delete", "id": "not-an-id"], ["op": "update", "id": R.fakeID("com"), "data": ["title": "x"]],
            ]])
            XCTAssertEqual(shapes.code, 200, shapes.text)
            XCTAssertEqual(BatchTests.status(shapes), [422, 422, 422, 422, 404, 404], shapes.text)
            for bad in [["operations": "x"], ["ops": []], [String: Any]()] as [[String: Any]] {
                let r = try await api.post("/api/v1/contacts/batch", token: t, json: bad)
                XCTAssertTrue(r.code == 400 || r.code == 422, "\(bad): \(r.text)")
            }
            let malformed = try await api.send(.post, "/api/v1/contacts/batch", token: t, raw: "{\"operations\": [")
            R.assertError(malformed, 400, "bad_request", "malformed JSON")
        }
    }

    func testIdempotencyKeyCoversTheWholeBatch() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let body: [String: Any] = ["operations": [
                ["op": "create", "data": ["first_name": "Once", "email": "once@example.com"]],
                ["op": "create", "data": ["first_name": "Twice"]],
            ]]
            let first = try await api.post("/api/v1/contacts/batch", token: t, json: body, headers: ["Idempotency-Key": "batch-1"])
            XCTAssertEqual(first.code, 200, first.text)
            XCTAssertEqual(BatchTests.status(first), [201, 201])
            XCTAssertNil(first.header("Idempotent-Replayed"))
            let replay = try await api.post("/api/v1/contacts/batch", token: t, json: body, headers: ["Idempotency-Key": "batch-1"])
            XCTAssertEqual(replay.code, 200, replay.text)
            XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
            XCTAssertEqual(R.ids(replay.items.compactMap { $0["data"] as? [String: Any] }), R.ids(first.items.compactMap { $0["data"] as? [String: Any] }),
                           "the stored results are returned, not a second run")
            XCTAssertEqual(BatchTests.status(replay), [201, 201], "not [409, 201]: nothing ran again")
            let list = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(list.json["total"]), 2)
            var changed = body
            changed["operations"] = [["op": "create", "data": ["first_name": "Other"]]]
            let reused = try await api.post("/api/v1/contacts/batch", token: t, json: changed, headers: ["Idempotency-Key": "batch-1"])
            R.assertError(reused, 422, "idempotency_key_reused", "same key, another batch")
            let after = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(after.json["total"]), 2)
            // A batch whose items partly failed is still replayed as it was.
            let partial: [String: Any] = ["operations": [["op": "create", "data": ["first_name": "P", "email": "once@example.com"]],
                                                         ["op": "create", "data": ["first_name": "Q"]]]]
            let p1 = try await api.post("/api/v1/contacts/batch", token: t, json: partial, headers: ["Idempotency-Key": "batch-2"])
            XCTAssertEqual(BatchTests.status(p1), [409, 201])
            let p2 = try await api.post("/api/v1/contacts/batch", token: t, json: partial, headers: ["Idempotency-Key": "batch-2"])
            XCTAssertEqual(BatchTests.status(p2), [409, 201])
            XCTAssertEqual(p2.header("Idempotent-Replayed"), "true")
            let final = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(final.json["total"]), 3)
        }
    }

    func testPermissionsVisibilityAndOtherWorkspacesInBatches() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let privateContact = try await R.contact(api, team.member.accessToken, ["first_name": "Secret", "visibility": "private"])
            let shared = try await R.contact(api, team.member.accessToken, ["first_name": "Shared"])
            let viewer = try await api.post("/api/v1/contacts/batch", token: team.viewer.accessToken, json: ["operations": [["op": "delete", "id": shared]]])
            R.assertError(viewer, 403, "forbidden", "viewer batch")
            let other = try await api.post("/api/v1/contacts/batch", token: team.member2.accessToken, json: ["operations": [
                ["op": "update", "id": privateContact, "data": ["title": "peek"]],
                ["op": "delete", "id": privateContact],
                ["op": "update", "id": shared, "data": ["title": "ok"]],
            ]])
            XCTAssertEqual(other.code, 200, other.text)
            XCTAssertEqual(BatchTests.status(other), [404, 404, 200], "a private record is not found for others, even in a batch")
            let secret = try await R.get(api, team.member.accessToken, "contacts", privateContact)
            XCTAssertEqual(R.int(secret["version"]), 1)
            let admin = try await api.post("/api/v1/contacts/batch", token: team.admin.accessToken, json: ["operations": [
                ["op": "update", "id": privateContact, "data": ["title": "admin"]],
            ]])
            XCTAssertEqual(BatchTests.status(admin), [200], "admins see private records")
            // Referencing an invisible company inside a batch item is a 422 not_found for that item.
            let privateCompany = try await R.company(api, team.member.accessToken, ["name": "Hidden", "visibility": "private"])
            let ref = try await api.post("/api/v1/contacts/batch", token: team.member2.accessToken, json: ["operations": [
                ["op": "create", "data": ["first_name": "Linked", "company_id": privateCompany]],
            ]])
            XCTAssertEqual(BatchTests.status(ref), [422])
            let details = ((ref.items.first?["error"] as? [String: Any])?["details"] as? [[String: Any]]) ?? []
            XCTAssertEqual(details.first?["field"] as? String, "company_id")
            XCTAssertEqual(details.first?["code"] as? String, "not_found")
            // A key with contacts:read cannot batch.
            let key = try await F.createKey(api, team.member.accessToken, scopes: ["contacts:read"])
            R.assertError(try await api.post("/api/v1/contacts/batch", token: key.secret, json: ["operations": [["op": "create", "data": ["first_name": "K"]]]]),
                          403, "forbidden", "read-only key")
        }
    }

    func testBatchAgainstAnotherWorkspace() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await api.signup(email: "a@example.com", workspace: "A")
            let b = try await api.signup(email: "b@example.com", workspace: "B")
            let theirs = try await R.contact(api, a.accessToken, ["first_name": "A's", "email": "shared@example.com"])
            let theirCompany = try await R.company(api, a.accessToken, ["name": "A Co"])
            let r = try await api.post("/api/v1/contacts/batch", token: b.accessToken, json: ["operations": [
                ["op": "update", "id": theirs, "data": ["title": "pwned"]],
                ["op": "delete", "id": theirs],
                ["op": "create", "data": ["first_name": "Mine", "company_id": theirCompany]],
                ["op": "create", "data": ["first_name": "Mine too", "email": "shared@example.com"]],
            ]])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(BatchTests.status(r), [404, 404, 422, 201], "other workspaces' ids are unknown; e-mails are unique per workspace only")
            let still = try await R.get(api, a.accessToken, "contacts", theirs)
            XCTAssertTrue(R.isNull(still["title"]))
            XCTAssertEqual(R.int(still["version"]), 1)
        }
    }
}
