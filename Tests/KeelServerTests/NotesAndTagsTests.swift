import Foundation
import KeelCore
import XCTest

final class NotesAndTagsTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    // MARK: Notes

    func testNoteLifecycle() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let me = try await F.userID(api, t)
            let contact = try await R.contact(api, t, ["first_name": "Ada"])
            let company = try await R.company(api, t, ["name": "Acme"])
            let r = try await api.post("/api/v1/notes", token: t, json: ["body": "Met at **conference**\n\n- follow up", "related_to": ["type": "contact", "id": contact]])
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("note_"), id)
            XCTAssertEqual(r.header("Location"), "/api/v1/notes/\(id)")
            XCTAssertEqual(r.data["body"] as? String, "Met at **conference**\n\n- follow up")
            XCTAssertEqual(r.data["pinned"] as? Bool, false)
            let related = r.data["related_to"] as? [String: Any]
            XCTAssertEqual(related?["type"] as? String, "contact")
            XCTAssertEqual(related?["id"] as? String, contact)
            XCTAssertEqual(r.data["author_id"] as? String, me)
            XCTAssertEqual(R.int(r.data["version"]), 1)
            XCTAssertNil(r.data["related_type"], "the stored columns are not part of the API shape")

            let onCompany = try await R.note(api, t, type: "company", id: company, body: "Account note", pinned: true)
            let pinned = try await R.get(api, t, "notes", onCompany)
            XCTAssertEqual(pinned["pinned"] as? Bool, true)

            let p = try await api.patch("/api/v1/notes/\(id)", token: t, json: ["pinned": true, "body": "Edited"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(p.code, 200, p.text)
            XCTAssertEqual(p.data["pinned"] as? Bool, true)
            XCTAssertEqual(p.data["body"] as? String, "Edited")
            XCTAssertEqual(R.int(p.data["version"]), 2)
            R.assertError(try await api.patch("/api/v1/notes/\(id)", token: t, json: ["body": "Stale"], headers: ["If-Match": "\"1\""]), 409,
                          "version_conflict", "stale note")
            R.assertError(try await api.patch("/api/v1/notes/\(id)", token: t, json: ["body": R.null]), 422, "validation_failed", field: "body",
                          "body cannot be cleared")
            R.assertError(try await api.patch("/api/v1/notes/\(id)", token: t, json: ["body": "  "]), 422, "validation_failed", field: "body",
                          "body cannot be emptied")

            let list = try await api.get("/api/v1/notes?include_total=true", token: t)
            XCTAssertEqual(list.code, 200, list.text)
            XCTAssertEqual(Set(R.ids(list.items)), [id, onCompany])
            XCTAssertEqual(R.int(list.json["total"]), 2)
            let hist = try await R.history(api, t, "notes", id)
            XCTAssertTrue(hist.contains { $0["field"] as? String == "body" && $0["new"] as? String == "Edited" }, "\(hist)")

            try await R.delete(api, t, "notes", id)
            R.assertError(try await api.get("/api/v1/notes/\(id)", token: t), 404, "not_found", "deleted note")
            let restored = try await api.post("/api/v1/notes/\(id)/restore", token: t)
            XCTAssertEqual(restored.code, 200, restored.text)
            let audits = try await R.audit(api, t, "object_id=\(id)")
            XCTAssertEqual(Set(audits.compactMap { $0["action"] as? String }), ["note.created", "note.updated", "note.deleted", "note.restored"])
            R.assertError(try await api.get("/api/v1/notes/\(R.fakeID("note"))", token: t), 404, "not_found", "unknown note")
            R.assertError(try await api.get("/api/v1/notes/\(contact)", token: t), 404, "not_found", "contact id as note id")
        }
    }

    func testNoteValidation() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let contact = try await R.contact(api, t, ["first_name": "Ada"])
            let gone = try await R.contact(api, t, ["first_name": "Gone"])
            try await R.delete(api, t, "contacts", gone)
            let related: [String: Any] = ["type": "contact", "id": contact]
            // Exactly 100 KB is allowed; one byte more is not; multi-byte characters count as bytes.
            let limit = 100 * 1024
            let atLimit = try await api.post("/api/v1/notes", token: t, json: ["body": String(repeating: "a", count: limit), "related_to": related])
            XCTAssertEqual(atLimit.code, 201, "exactly 100 KB: \(atLimit.text.prefix(300))")
            let cases: [([String: Any], String?)] = [
                (["body": String(repeating: "a", count: limit + 1), "related_to": related], "body"),
                (["body": String(repeating: "é", count: limit / 2 + 1), "related_to": related], "body"),
                (["related_to": related], "body"),
                (["body": "", "related_to": related], "body"),
                (["body": 5, "related_to": related], "body"),
                (["body": "x"], nil),
                (["body": "x", "related_to": ["type": "contact"]], nil),
                (["body": "x", "related_to": ["type": "widget", "id": contact]], nil),
                (["body": "x", "related_to": ["type": "company", "id": contact]], "related_to.id"),
                (["body": "x", "related_to": ["type": "contact", "id": R.fakeID("con")]], "related_to.id"),
                (["body": "x", "related_to": ["type": "contact", "id": gone]], "related_to.id"),
                (["body": "x", "related_to": ["type": "contact", "id": "' OR 1=1 --"]], nil),
                (["body": "x", "related_to": "contact"], nil),
                (["body": "x", "related_to": related, "pinned": "yes"], "pinned"),
                (["body": "x", "related_to": related, "tags": ["a"]], "tags"),
                (["body": "x", "related_to": related, "author_id": R.fakeID("usr")], "author_id"),
            ]
            for (body, field) in cases {
                let r = try await api.post("/api/v1/notes", token: t, json: body)
                R.assertError(r, 422, "validation_failed", field: field, "\(body.mapValues { "\($0)".prefix(40) })")
            }
            let notes = try await api.get("/api/v1/notes?include_total=true", token: t)
            XCTAssertEqual(R.int(notes.json["total"]), 1, "only the 100 KB note exists")
            // A note may move to another (live) record.
            let company = try await R.company(api, t, ["name": "Acme"])
            let n = try await R.note(api, t, type: "contact", id: contact)
            let moved = try await api.patch("/api/v1/notes/\(n)", token: t, json: ["related_to": ["type": "company", "id": company]])
            XCTAssertEqual(moved.code, 200, moved.text)
            XCTAssertEqual((moved.data["related_to"] as? [String: Any])?["id"] as? String, company)
            let badMove = try await api.patch("/api/v1/notes/\(n)", token: t, json: ["related_to": ["type": "contact", "id": gone]])
            XCTAssertEqual(badMove.code, 422, badMove.text)
        }
    }

    func testOnlyTheAuthorOrAnAdminEditsANote() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let contact = try await R.contact(api, team.member.accessToken, ["first_name": "Shared"])
            let note = try await R.note(api, team.member.accessToken, type: "contact", id: contact, body: "mine")
            // Another member reads it but may not change or delete it.
            let read = try await api.get("/api/v1/notes/\(note)", token: team.member2.accessToken)
            XCTAssertEqual(read.code, 200, read.text)
            R.assertError(try await api.patch("/api/v1/notes/\(note)", token: team.member2.accessToken, json: ["body": "hijacked"]), 403, "forbidden",
                          "other member edits")
            R.assertError(try await api.delete("/api/v1/notes/\(note)", token: team.member2.accessToken), 403, "forbidden", "other member deletes")
            let batch = try await api.post("/api/v1/notes/batch", token: team.member2.accessToken, json: ["operations": [
                ["op": "update", "id": note, "data": ["body": "hijacked"]], ["op": "delete", "id": note],
            ]])
            XCTAssertEqual(batch.code, 200, batch.text)
            XCTAssertEqual(batch.items.compactMap { R.int($0["status"]) }, [403, 403], batch.text)
            let still = try await R.get(api, team.owner.accessToken, "notes", note)
            XCTAssertEqual(still["body"] as? String, "mine")
            XCTAssertEqual(R.int(still["version"]), 1)
            // Viewers cannot write notes at all.
            R.assertError(try await api.post("/api/v1/notes", token: team.viewer.accessToken, json: ["body": "v", "related_to": ["type": "contact", "id": contact]]),
                          403, "forbidden", "viewer creates")
            R.assertError(try await api.patch("/api/v1/notes/\(note)", token: team.viewer.accessToken, json: ["body": "v"]), 403, "forbidden", "viewer edits")
            // The author and admins may.
            let byAuthor = try await api.patch("/api/v1/notes/\(note)", token: team.member.accessToken, json: ["body": "mine, edited"])
            XCTAssertEqual(byAuthor.code, 200, byAuthor.text)
            let byAdmin = try await api.patch("/api/v1/notes/\(note)", token: team.admin.accessToken, json: ["pinned": true])
            XCTAssertEqual(byAdmin.code, 200, byAdmin.text)
            XCTAssertEqual(byAdmin.data["author_id"] as? String, team.memberID, "editing does not change the author")
            let byOwner = try await api.patch("/api/v1/notes/\(note)", token: team.owner.accessToken, json: ["body": "moderated"])
            XCTAssertEqual(byOwner.code, 200, byOwner.text)
            let del = try await api.delete("/api/v1/notes/\(note)", token: team.admin.accessToken)
            XCTAssertEqual(del.code, 204, del.text)
            // A member's own note, via an API key of theirs.
            let key = try await F.createKey(api, team.member2.accessToken, scopes: ["notes:write"])
            let keyed = try await api.post("/api/v1/notes", token: key.secret, json: ["body": "via key", "related_to": ["type": "contact", "id": contact]])
            XCTAssertEqual(keyed.code, 201, keyed.text)
            XCTAssertEqual(keyed.data["author_id"] as? String, team.member2ID)
            let keyedEdit = try await api.patch("/api/v1/notes/\(keyed.data["id"] as? String ?? "")", token: team.member2.accessToken, json: ["body": "edited"])
            XCTAssertEqual(keyedEdit.code, 200, keyedEdit.text)
        }
    }

    func testNotesCanBeFoundByTheirParentAndText() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let ada = try await R.contact(api, t, ["first_name": "Ada"])
            let bob = try await R.contact(api, t, ["first_name": "Bob"])
            let n1 = try await R.note(api, t, type: "contact", id: ada, body: "Quarterly Review with Ada")
            let n2 = try await R.note(api, t, type: "contact", id: ada, body: "second")
            _ = try await R.note(api, t, type: "contact", id: bob, body: "about Bob")
            // Equality filters on the parent (ids compare exactly, they are not lower-cased text).
            let byParent = try await R.listIDs(api, t, "/api/v1/notes?related_type=contact&related_id=\(ada)")
            XCTAssertEqual(byParent, [n1, n2], "GET /notes?related_id= must find the record's notes")
            let searchParent = try await R.searchIDs(api, t, "notes", ["field": "related_id", "op": "eq", "value": ada])
            XCTAssertEqual(searchParent, [n1, n2])
            let inParents = try await R.searchIDs(api, t, "notes", ["field": "related_id", "op": "in", "value": [ada, bob]])
            XCTAssertEqual(inParents.count, 3)
            // String filters are case-insensitive (api.md §7) on every database.
            let text = try await R.searchIDs(api, t, "notes", ["field": "body", "op": "contains", "value": "quarterly review"])
            XCTAssertEqual(text, [n1])
            let textUpper = try await R.searchIDs(api, t, "notes", ["field": "body", "op": "starts_with", "value": "QUARTERLY"])
            XCTAssertEqual(textUpper, [n1])
            let pinned = try await R.searchIDs(api, t, "notes", ["field": "pinned", "op": "eq", "value": false])
            XCTAssertEqual(pinned.count, 3)
        }
    }

    // MARK: Tags

    func testTagsSetAddRemoveAndDedupe() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let c = try await R.create(api, t, "contacts", ["first_name": "Tagged", "tags": [" VIP ", "vip", "Beta", "BETA", "gamma"]])
            let id = c["id"] as? String ?? ""
            XCTAssertEqual(c["tags"] as? [String], ["VIP", "Beta", "gamma"], "trimmed, case-insensitively deduplicated, first spelling kept")
            let add = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["add_tags": ["vIp", "Delta", "delta"]])
            XCTAssertEqual(add.code, 200, add.text)
            XCTAssertEqual(add.data["tags"] as? [String], ["VIP", "Beta", "gamma", "Delta"])
            let remove = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["remove_tags": ["beta", "GAMMA", "not-there"]])
            XCTAssertEqual(remove.data["tags"] as? [String], ["VIP", "Delta"])
            let both = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["add_tags": ["new"], "remove_tags": ["vip"]])
            XCTAssertEqual(both.data["tags"] as? [String], ["Delta", "new"])
            let replace = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["tags": ["One", "two"]])
            XCTAssertEqual(replace.data["tags"] as? [String], ["One", "two"])
            XCTAssertEqual(R.int(replace.data["version"]), 5)
            let sameSet = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["add_tags": ["ONE"]])
            XCTAssertEqual(R.int(sameSet.data["version"]), 5, "adding a tag already present (any case) changes nothing")
            let clear = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["tags": []])
            XCTAssertEqual(clear.data["tags"] as? [String], [])
            _ = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["tags": ["x"]])
            let nulled = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["tags": R.null])
            XCTAssertEqual(nulled.data["tags"] as? [String], [], nulled.text)

            let bad: [([String: Any], String)] = [
                (["tags": ["ok", 5]], "tags"),
                (["tags": [""]], "tags"),
                (["tags": ["   "]], "tags"),
                (["tags": [String(repeating: "t", count: 51)]], "tags"),
                (["tags": (0..<51).map { "t\($0)" }], "tags"),
                (["add_tags": "x"], "add_tags"),
                (["remove_tags": [1]], "remove_tags"),
            ]
            for (body, field) in bad {
                R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: body), 422, "validation_failed", field: field, "\(body)")
            }
            let fifty = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["tags": (0..<50).map { "t\($0)" }])
            XCTAssertEqual(fifty.code, 200, "50 tags are allowed: \(fifty.text)")
            let fiftyOne = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["add_tags": ["one-more"]])
            R.assertError(fiftyOne, 422, "validation_failed", field: "tags", "51st tag")
            let fiftyChars = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["tags": [String(repeating: "c", count: 50)]])
            XCTAssertEqual(fiftyChars.code, 200)
            // Companies carry tags the same way.
            let company = try await R.create(api, t, "companies", ["name": "Acme", "tags": ["Partner", "partner"]])
            XCTAssertEqual(company["tags"] as? [String], ["Partner"])
        }
    }

    func testTagCountsWithPrefix() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.owner.accessToken
            _ = try await R.contact(api, t, ["first_name": "A", "tags": ["VIP", "beta"]])
            _ = try await R.contact(api, t, ["first_name": "B", "tags": ["vip"]])
            _ = try await R.company(api, t, ["name": "C", "tags": ["Vip", "partner"]])
            let deleted = try await R.contact(api, t, ["first_name": "D", "tags": ["vip", "deleted-only"]])
            try await R.delete(api, t, "contacts", deleted)
            _ = try await R.contact(api, team.member.accessToken, ["first_name": "P", "tags": ["private-only", "vip"], "visibility": "private"])

            let r = try await api.get("/api/v1/tags", token: team.member2.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            let counts = Dictionary(uniqueKeysWithValues: r.items.map { (($0["tag"] as? String ?? "").lowercased(), R.int($0["count"]) ?? -1) })
            XCTAssertEqual(counts, ["vip": 3, "beta": 1, "partner": 1], "live, visible records of every type; case-insensitive groups")
            XCTAssertEqual(r.items.first?["tag"] as? String != nil, true)
            XCTAssertEqual((r.items.first?["tag"] as? String)?.lowercased(), "vip", "most used first")
            let prefixed = try await api.get("/api/v1/tags?q=V", token: team.viewer.accessToken)
            XCTAssertEqual(prefixed.items.compactMap { ($0["tag"] as? String)?.lowercased() }, ["vip"])
            let p2 = try await api.get("/api/v1/tags?q=pa", token: team.viewer.accessToken)
            XCTAssertEqual(p2.items.compactMap { $0["tag"] as? String }, ["partner"])
            let none = try await api.get("/api/v1/tags?q=zzz", token: t)
            XCTAssertTrue(none.items.isEmpty)
            // Owners of private records and admins see their tags.
            let mine = try await api.get("/api/v1/tags?q=private", token: team.member.accessToken)
            XCTAssertEqual(mine.items.compactMap { $0["tag"] as? String }, ["private-only"])
            let admin = try await api.get("/api/v1/tags", token: team.admin.accessToken)
            let adminCounts = Dictionary(uniqueKeysWithValues: admin.items.map { (($0["tag"] as? String ?? "").lowercased(), R.int($0["count"]) ?? -1) })
            XCTAssertEqual(adminCounts["vip"], 4)
            XCTAssertEqual(adminCounts["private-only"], 1)
            XCTAssertNil(adminCounts["deleted-only"])
            let limited = try await api.get("/api/v1/tags?limit=1", token: t)
            XCTAssertEqual(limited.items.count, 1)
            R.assertError(try await api.get("/api/v1/tags?limit=0", token: t), 400, "bad_request", "limit=0")
            // Tags need crm:read.
            let key = try await F.createKey(api, t, scopes: ["deals:read"])
            R.assertError(try await api.get("/api/v1/tags", token: key.secret), 403, "forbidden", "tags without crm:read")
        }
    }

    func testTagFiltersInListsAndSearch() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let a = try await R.contact(api, t, ["first_name": "A", "tags": ["VIP", "beta"]])
            let b = try await R.contact(api, t, ["first_name": "B", "tags": ["beta"]])
            let c = try await R.contact(api, t, ["first_name": "C"])
            let d = try await R.contact(api, t, ["first_name": "D", "tags": ["vipers"]])
            let listed = try await R.listIDs(api, t, "/api/v1/contacts?tag=Vip")
            XCTAssertEqual(listed, [a], "tag= is an exact, case-insensitive match")
            let cases: [([String: Any], Set<String>)] = [
                (["field": "tags", "op": "eq", "value": "beta"], [a, b]),
                (["field": "tags", "op": "in", "value": ["VIP", "nothing"]], [a]),
                (["field": "tags", "op": "nin", "value": ["beta"]], [c, d]),
                (["field": "tags", "op": "neq", "value": "vip"], [b, c, d]),
                (["field": "tags", "op": "contains", "value": "IP"], [a, d]),
                (["field": "tags", "op": "starts_with", "value": "vip"], [a, d]),
                (["field": "tags", "op": "is_null", "value": true], [c]),
                (["field": "tags", "op": "is_null", "value": false], [a, b, d]),
                (["and": [["field": "tags", "op": "eq", "value": "beta"], ["field": "tags", "op": "eq", "value": "vip"]]], [a]),
            ]
            for (filter, expected) in cases {
                let got = try await R.searchIDs(api, t, "contacts", filter)
                XCTAssertEqual(got, expected, "\(filter)")
            }
            R.assertError(try await R.search(api, t, "contacts", ["field": "tags", "op": "gt", "value": "a"]), 422, "validation_failed", "gt on tags")
            R.assertError(try await R.search(api, t, "contacts", ["field": "tags", "op": "eq", "value": 3]), 422, "validation_failed", "number tag")
            R.assertError(try await api.get("/api/v1/contacts?sort=tags", token: t), 400, "bad_request", "sort by tags")
        }
    }
}
