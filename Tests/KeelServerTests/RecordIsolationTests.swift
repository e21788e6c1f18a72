import Foundation
import KeelCore
import XCTest

/// Workspace A's contacts, companies, notes, custom fields and tags, seen with workspace B's credentials.
final class RecordIsolationTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    struct A: Sendable {
        let owner: Session
        let ownerUserID: String
        let contact: String
        let company: String
        let note: String
        let customField: String
    }

    static func seedA(_ api: API) async throws -> A {
        let owner = try await api.signup(email: "a-owner@example.com", workspace: "Alpha")
        let t = owner.accessToken
        let cf = try await R.customField(api, t, key: "alpha_only", type: "text")
        let company = try await R.company(api, t, ["name": "Alpha Corp", "domain": "alpha.example", "tags": ["alpha-tag"]])
        let contact = try await R.contact(api, t, ["first_name": "Alice", "last_name": "Alpha", "email": "alice@alpha.example", "phone": "+15550001111",
                                                   "company_id": company, "tags": ["alpha-tag"], "custom_fields": ["alpha_only": "A"]])
        let note = try await R.note(api, t, type: "contact", id: contact, body: "alpha note")
        return A(owner: owner, ownerUserID: try await F.userID(api, t), contact: contact, company: company, note: note, customField: cf)
    }

    static func assertAUntouched(_ api: API, _ a: A) async throws {
        let c = try await R.get(api, a.owner.accessToken, "contacts", a.contact)
        XCTAssertEqual(R.int(c["version"]), 1, "A's contact must be untouched: \(c)")
        XCTAssertEqual(c["company_id"] as? String, a.company)
        XCTAssertEqual(c["tags"] as? [String], ["alpha-tag"])
        XCTAssertTrue(R.isNull(c["deleted_at"]))
        let com = try await R.get(api, a.owner.accessToken, "companies", a.company)
        XCTAssertEqual(R.int(com["version"]), 1)
        let n = try await R.get(api, a.owner.accessToken, "notes", a.note)
        XCTAssertEqual(n["body"] as? String, "alpha note")
        XCTAssertEqual((n["related_to"] as? [String: Any])?["id"] as? String, a.contact)
        let def = try await api.get("/api/v1/custom-fields/\(a.customField)", token: a.owner.accessToken)
        XCTAssertEqual(R.int(def.data["version"]), 1)
        let list = try await R.listIDs(api, a.owner.accessToken, "/api/v1/contacts")
        XCTAssertEqual(list, [a.contact])
    }

    static func runChecks(_ api: API, _ a: A, bToken: String, sameUser: Bool = false) async throws {
        let nf: (TestResponse, String) -> Void = { r, what in R.assertError(r, 404, "not_found", "B → A: \(what)") }
        // Ids in the path: 404.
        for (objects, id) in [("contacts", a.contact), ("companies", a.company), ("notes", a.note)] {
            nf(try await api.get("/api/v1/\(objects)/\(id)", token: bToken), "GET \(objects)")
            nf(try await api.get("/api/v1/\(objects)/\(id)?include_deleted=true", token: bToken), "GET \(objects) include_deleted")
            nf(try await api.patch("/api/v1/\(objects)/\(id)", token: bToken, json: ["version": 1]), "PATCH \(objects)")
            nf(try await api.delete("/api/v1/\(objects)/\(id)", token: bToken), "DELETE \(objects)")
            nf(try await api.post("/api/v1/\(objects)/\(id)/restore", token: bToken), "restore \(objects)")
            nf(try await api.get("/api/v1/\(objects)/\(id)/history", token: bToken), "history \(objects)")
            nf(try await api.get("/api/v1/\(objects)/\(id)/timeline", token: bToken), "timeline \(objects)")
        }
        nf(try await api.get("/api/v1/companies/\(a.company)/contacts", token: bToken), "company contacts")
        nf(try await api.get("/api/v1/custom-fields/\(a.customField)", token: bToken), "GET custom field")
        // Merge: survivor in the path 404, sources in the body 422 not_found.
        let bContact = try await R.contact(api, bToken, ["first_name": "Bob", "last_name": "Beta"])
        let bCompany = try await R.company(api, bToken, ["name": "Beta Corp"])
        nf(try await MergeTests.merge(api, bToken, "contacts", into: a.contact, [bContact]), "merge into A's contact")
        nf(try await MergeTests.merge(api, bToken, "companies", into: a.company, [bCompany]), "merge into A's company")
        R.assertError(try await MergeTests.merge(api, bToken, "contacts", into: bContact, [a.contact]), 422, "validation_failed", field: "source_ids[0]",
                      detailCode: "not_found", "merge A's contact away")
        R.assertError(try await MergeTests.merge(api, bToken, "companies", into: bCompany, [a.company]), 422, "validation_failed", field: "source_ids[0]",
                      detailCode: "not_found", "merge A's company away")
        // Ids in a body: 422 not_found.
        R.assertError(try await api.post("/api/v1/contacts", token: bToken, json: ["first_name": "X", "company_id": a.company]), 422, "validation_failed",
                      field: "company_id", detailCode: "not_found", "company_id of A")
        R.assertError(try await api.patch("/api/v1/contacts/\(bContact)", token: bToken, json: ["company_id": a.company]), 422, "validation_failed",
                      field: "company_id", detailCode: "not_found", "PATCH company_id of A")
        if !sameUser {
            R.assertError(try await api.post("/api/v1/contacts", token: bToken, json: ["first_name": "X", "owner_id": a.ownerUserID]), 422, "validation_failed",
                          field: "owner_id", detailCode: "not_found", "owner_id of A's user")
            R.assertError(try await api.post("/api/v1/companies", token: bToken, json: ["name": "X", "owner_id": a.ownerUserID]), 422, "validation_failed",
                          field: "owner_id", detailCode: "not_found", "company owner_id of A's user")
        }
        R.assertError(try await api.post("/api/v1/notes", token: bToken, json: ["body": "x", "related_to": ["type": "contact", "id": a.contact]]), 422,
                      "validation_failed", field: "related_to.id", detailCode: "not_found", "note on A's contact")
        let bNote = try await R.note(api, bToken, type: "contact", id: bContact)
        R.assertError(try await api.patch("/api/v1/notes/\(bNote)", token: bToken, json: ["related_to": ["type": "company", "id": a.company]]), 422,
                      "validation_failed", field: "related_to.id", detailCode: "not_found", "move a note onto A's company")
        R.assertError(try await api.post("/api/v1/contacts", token: bToken, json: ["first_name": "X", "custom_fields": ["alpha_only": "B"]]), 422,
                      "validation_failed", field: "custom_fields.alpha_only", detailCode: "unknown_field", "A's custom field")
        // Batch items: 404 per item.
        let batch = try await api.post("/api/v1/contacts/batch", token: bToken, json: ["operations": [
            ["op": "update", "id": a.contact, "data": ["title": "x"]], ["op": "delete", "id": a.contact],
        ]])
        XCTAssertEqual(batch.items.compactMap { R.int($0["status"]) }, [404, 404], batch.text)

        // Lists, searches, tags and duplicate checks never show A's rows.
        let contacts = try await R.listIDs(api, bToken, "/api/v1/contacts")
        XCTAssertFalse(contacts.contains(a.contact))
        let companies = try await R.listIDs(api, bToken, "/api/v1/companies")
        XCTAssertFalse(companies.contains(a.company))
        let notes = try await api.get("/api/v1/notes?include_total=true", token: bToken)
        XCTAssertFalse(R.ids(notes.items).contains(a.note))
        XCTAssertEqual(R.int(notes.json["total"]), R.ids(notes.items).count)
        for q in ["alice", "alpha", "5550001111"] {
            let r = try await R.listIDs(api, bToken, "/api/v1/contacts?q=\(q)")
            XCTAssertFalse(r.contains(a.contact), "q=\(q)")
        }
        let search = try await R.searchIDs(api, bToken, "contacts", ["field": "email", "op": "eq", "value": "alice@alpha.example"])
        XCTAssertTrue(search.isEmpty)
        let byID = try await R.searchIDs(api, bToken, "contacts", ["field": "id", "op": "eq", "value": a.contact])
        XCTAssertTrue(byID.isEmpty)
        let companySearch = try await R.searchIDs(api, bToken, "companies", ["field": "domain", "op": "eq", "value": "alpha.example"])
        XCTAssertTrue(companySearch.isEmpty)
        let total = try await api.post("/api/v1/contacts/search", token: bToken, json: ["include_total": true])
        XCTAssertEqual(R.int(total.json["total"]), R.ids(total.items).count)
        XCTAssertFalse(R.ids(total.items).contains(a.contact))
        let tags = try await api.get("/api/v1/tags?q=alpha", token: bToken)
        XCTAssertTrue(tags.items.isEmpty, tags.text)
        let dups = try await api.post("/api/v1/contacts/check-duplicates", token: bToken, json: ["email": "alice@alpha.example", "phone": "+15550001111",
                                                                                               "first_name": "Alice", "last_name": "Alpha"])
        XCTAssertTrue(dups.items.isEmpty, dups.text)
        let companyDups = try await api.post("/api/v1/companies/check-duplicates", token: bToken, json: ["domain": "alpha.example", "name": "Alpha Corp"])
        XCTAssertTrue(companyDups.items.isEmpty, companyDups.text)
        let defs = try await api.get("/api/v1/custom-fields", token: bToken)
        XCTAssertFalse(R.ids(defs.items).contains(a.customField))
        // Expanding never reaches into A: a B contact cannot even point at A's company, so there is nothing to inline.
        let expanded = try await api.get("/api/v1/contacts/\(bContact)?expand=company,owner", token: bToken)
        XCTAssertEqual(expanded.code, 200)
        XCTAssertFalse(expanded.text.contains(a.company))
    }

    func testSeparateWorkspacesCannotReachEachOthersRecords() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await RecordIsolationTests.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            try await RecordIsolationTests.runChecks(api, a, bToken: b.accessToken)
            // Unique values are unique per workspace: B may reuse A's e-mail and domain.
            let sameEmail = try await api.post("/api/v1/contacts", token: b.accessToken, json: ["first_name": "Other Alice", "email": "alice@alpha.example"])
            XCTAssertEqual(sameEmail.code, 201, sameEmail.text)
            let sameDomain = try await api.post("/api/v1/companies", token: b.accessToken, json: ["name": "Other Alpha", "domain": "alpha.example"])
            XCTAssertEqual(sameDomain.code, 201, sameDomain.text)
            let sameKey = try await api.post("/api/v1/custom-fields", token: b.accessToken, json: ["object_type": "contact", "key": "alpha_only", "type": "number"])
            XCTAssertEqual(sameKey.code, 201, sameKey.text)
            // And A's tag counts are not affected by B's tags.
            _ = try await R.contact(api, b.accessToken, ["first_name": "Tagged", "tags": ["alpha-tag"]])
            let aTags = try await api.get("/api/v1/tags?q=alpha", token: a.owner.accessToken)
            XCTAssertEqual(R.int(aTags.items.first?["count"]), 2, "A: its contact and its company: \(aTags.text)")
            try await RecordIsolationTests.assertAUntouched(api, a)
        }
    }

    func testAnAPIKeyOfAnotherWorkspaceSeesNothing() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await RecordIsolationTests.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            let key = try await F.createKey(api, b.accessToken, scopes: ["*"])
            try await RecordIsolationTests.runChecks(api, a, bToken: key.secret)
            try await RecordIsolationTests.assertAUntouched(api, a)
        }
    }

    func testTheSameUserInAnotherWorkspaceSeesOnlyThatWorkspace() async throws {
        try await withApp { api, _ in
            let a = try await RecordIsolationTests.seedA(api)
            let created = try await api.post("/api/v1/workspaces", token: a.owner.accessToken, json: ["name": "Beta"])
            XCTAssertEqual(created.code, 201, created.text)
            let sw = try await api.post("/api/v1/auth/switch-workspace", token: a.owner.accessToken, json: ["workspace_id": created.data["id"] as? String ?? ""])
            XCTAssertEqual(sw.code, 200, sw.text)
            try await RecordIsolationTests.runChecks(api, a, bToken: Session(sw).accessToken, sameUser: true)
            try await RecordIsolationTests.assertAUntouched(api, a)
        }
    }

    func testIdsOfAnotherWorkspaceInQueryFiltersAreBadRequests() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await RecordIsolationTests.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            // api.md §7: an unknown or other workspace's id inside a query filter → 400.
            for query in ["company_id=\(a.company)", "owner_id=\(a.ownerUserID)", "company_id=\(R.fakeID("com"))", "company_id=not-an-id"] {
                let r = try await api.get("/api/v1/contacts?\(query)", token: b.accessToken)
                R.assertError(r, 400, "bad_request", "GET /contacts?\(query)")
            }
            let r = try await api.get("/api/v1/companies?owner_id=\(a.ownerUserID)", token: b.accessToken)
            R.assertError(r, 400, "bad_request", "GET /companies?owner_id=<A's user>")
            try await RecordIsolationTests.assertAUntouched(api, a)
        }
    }

    func testWrongKindsAndMalformedIdsAreNotFound() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let contact = try await R.contact(api, t, ["first_name": "Ada"])
            let company = try await R.company(api, t, ["name": "Acme"])
            for (objects, id) in [("contacts", company), ("companies", contact), ("notes", contact), ("contacts", "con_"), ("contacts", "CON_" + ULID.make()),
                                  ("contacts", "con_" + ULID.make() + "x"), ("companies", "com_%27%3B--"), ("contacts", String(repeating: "9", count: 300))] {
                R.assertError(try await api.get("/api/v1/\(objects)/\(id)", token: t), 404, "not_found", "GET \(objects)/\(id.prefix(40))")
                R.assertError(try await api.patch("/api/v1/\(objects)/\(id)", token: t, json: ["version": 1]), 404, "not_found", "PATCH \(objects)/\(id.prefix(40))")
                R.assertError(try await api.delete("/api/v1/\(objects)/\(id)", token: t), 404, "not_found", "DELETE \(objects)/\(id.prefix(40))")
            }
            R.assertError(try await api.patch("/api/v1/contacts/\(R.fakeID("con"))", token: t, json: ["nickname": "x"]), 404, "not_found", "404 before 422")
        }
    }

    func testUnknownPathIdsAre404BeforeBodyErrors() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            // api.md §7 order of checks: 404 (ids in the path) → 415 → 400 → 422.
            let missing = R.fakeID("con")
            R.assertError(try await api.send(.patch, "/api/v1/contacts/\(missing)", token: t, raw: "{bad json"), 404, "not_found", "404 before 400")
            R.assertError(try await api.send(.patch, "/api/v1/contacts/\(missing)", token: t, raw: "title=x", contentType: "text/plain"), 404,
                          "not_found", "404 before 415")
            R.assertError(try await api.send(.post, "/api/v1/contacts/\(missing)/merge", token: t, raw: "{bad json"), 404, "not_found",
                          "merge: 404 before 400")
        }
    }
}
