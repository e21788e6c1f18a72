import Foundation
import KeelCore
import XCTest

/// `visibility: private` records are seen only by their owner and by admins (api.md §2, §7 "Visibility reaches children").
final class VisibilityTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    struct Seeded: Sendable {
        let team: Team
        let secret: String          // member's private contact
        let secretCompany: String   // member's private company
        let open: String            // member's workspace contact
        let secretNote: String      // note on the private contact
    }

    static func seed(_ api: API) async throws -> Seeded {
        let team = try await R.team(api)
        let m = team.member.accessToken
        let secretCompany = try await R.company(api, m, ["name": "Stealth Startup", "domain": "stealth.io", "visibility": "private", "tags": ["hush"]])
        let secret = try await R.contact(api, m, ["first_name": "Secret", "last_name": "Agent", "email": "agent@stealth.io", "visibility": "private",
                                                  "company_id": secretCompany, "tags": ["hush", "shared-tag"]])
        let open = try await R.contact(api, m, ["first_name": "Open", "last_name": "Agent", "email": "open@example.com", "tags": ["shared-tag"]])
        let secretNote = try await R.note(api, m, type: "contact", id: secret, body: "classified")
        return Seeded(team: team, secret: secret, secretCompany: secretCompany, open: open, secretNote: secretNote)
    }

    /// `writer`: whether the caller's role may write (a viewer's writes are 403 before any lookup, api.md §7 order of checks).
    static func assertHidden(_ api: API, _ s: Seeded, token: String, label: String, writer: Bool = true) async throws {
        let nf: (TestResponse, String) -> Void = { r, what in R.assertError(r, 404, "not_found", "\(label): \(what)") }
        let nfw: (TestResponse, String) -> Void = { r, what in
            if writer { R.assertError(r, 404, "not_found", "\(label): \(what)") } else { R.assertError(r, 403, "forbidden", "\(label): \(what)") }
        }
        nf(try await api.get("/api/v1/contacts/\(s.secret)", token: token), "GET")
        nfw(try await api.patch("/api/v1/contacts/\(s.secret)", token: token, json: ["title": "spy"]), "PATCH")
        nfw(try await api.delete("/api/v1/contacts/\(s.secret)", token: token), "DELETE")
        nfw(try await api.post("/api/v1/contacts/\(s.secret)/restore", token: token), "restore")
        nf(try await api.get("/api/v1/contacts/\(s.secret)/history", token: token), "history")
        nf(try await api.get("/api/v1/contacts/\(s.secret)/timeline", token: token), "timeline")
        nf(try await api.get("/api/v1/companies/\(s.secretCompany)", token: token), "GET company")
        nf(try await api.get("/api/v1/companies/\(s.secretCompany)/contacts", token: token), "company contacts")
        nf(try await api.get("/api/v1/notes/\(s.secretNote)", token: token), "note of a private contact")
        nfw(try await api.patch("/api/v1/notes/\(s.secretNote)", token: token, json: ["body": "x"]), "PATCH note of a private contact")

        let list = try await api.get("/api/v1/contacts?limit=200&include_total=true", token: token)
        XCTAssertEqual(list.code, 200, list.text)
        XCTAssertEqual(R.ids(list.items), [s.open], "\(label): list")
        XCTAssertEqual(R.int(list.json["total"]), 1, "\(label): include_total must not count private records")
        for query in ["q=agent", "q=stealth", "tag=hush", "email=agent@stealth.io", "company_id=\(s.secretCompany)"] {
            let r = try await api.get("/api/v1/contacts?\(query)&include_total=true", token: token)
            XCTAssertFalse(R.ids(r.items).contains(s.secret), "\(label): \(query)")
            if r.code == 200 { XCTAssertEqual(R.int(r.json["total"]), R.ids(r.items).count, "\(label): \(query) total") }
        }
        let companies = try await api.get("/api/v1/companies?include_total=true", token: token)
        XCTAssertTrue(companies.items.isEmpty, "\(label): companies \(companies.text)")
        XCTAssertEqual(R.int(companies.json["total"]), 0)
        let search = try await R.search(api, token, "contacts", ["field": "last_name", "op": "eq", "value": "agent"], extra: ["include_total": true])
        XCTAssertEqual(R.ids(search.items), [s.open], "\(label): search")
        XCTAssertEqual(R.int(search.json["total"]), 1, "\(label): search total")
        let companySearch = try await R.search(api, token, "companies", ["field": "domain", "op": "eq", "value": "stealth.io"])
        XCTAssertTrue(companySearch.items.isEmpty, "\(label): company search")
        let tags = try await api.get("/api/v1/tags", token: token)
        let counts = Dictionary(uniqueKeysWithValues: tags.items.map { (($0["tag"] as? String) ?? "", R.int($0["count"]) ?? 0) })
        XCTAssertEqual(counts, ["shared-tag": 1], "\(label): tag counts")
        let dupEmail = try await api.post("/api/v1/contacts/check-duplicates", token: token, json: ["email": "agent@stealth.io"])
        XCTAssertTrue(dupEmail.items.isEmpty, "\(label): duplicate check by e-mail")
        let dupName = try await api.post("/api/v1/contacts/check-duplicates", token: token, json: ["first_name": "Secret", "last_name": "Agent"])
        XCTAssertFalse(dupName.items.contains { ($0["record"] as? [String: Any])?["id"] as? String == s.secret }, "\(label): duplicate check by name")
        let dupCompany = try await api.post("/api/v1/companies/check-duplicates", token: token, json: ["domain": "stealth.io", "name": "Stealth Startup"])
        XCTAssertTrue(dupCompany.items.isEmpty, "\(label): company duplicate check")
        // Notes of a private record stay as private as the record.
        let notes = try await api.get("/api/v1/notes?limit=200&include_total=true", token: token)
        XCTAssertEqual(notes.code, 200, notes.text)
        XCTAssertFalse(R.ids(notes.items).contains(s.secretNote), "\(label): notes list")
        XCTAssertEqual(R.int(notes.json["total"]), R.ids(notes.items).count, "\(label): notes include_total must not count notes of private records")
        let relatedNotes = try await api.get("/api/v1/notes?related_id=\(s.secret)&include_total=true", token: token)
        XCTAssertFalse(R.ids(relatedNotes.items).contains(s.secretNote), "\(label): notes filtered by the private parent")
        XCTAssertEqual(relatedNotes.code, 200, relatedNotes.text)
        XCTAssertTrue(relatedNotes.code != 200 || (R.int(relatedNotes.json["total"]) ?? 0) == 0,
                      "\(label): notes of a private parent must not be counted: \(relatedNotes.text)")
    }

    func testPrivateRecordsAreInvisibleToOtherMembersAndViewers() async throws {
        try await withApp { api, _ in
            let s = try await VisibilityTests.seed(api)
            try await VisibilityTests.assertHidden(api, s, token: s.team.member2.accessToken, label: "other member")
            try await VisibilityTests.assertHidden(api, s, token: s.team.viewer.accessToken, label: "viewer", writer: false)
            // A key acts as its creator.
            let key = try await F.createKey(api, s.team.member2.accessToken, scopes: ["*"])
            R.assertError(try await api.get("/api/v1/contacts/\(s.secret)", token: key.secret), 404, "not_found", "other member's key")
            let ownKey = try await F.createKey(api, s.team.member.accessToken, scopes: ["crm:read"])
            let viaOwnKey = try await api.get("/api/v1/contacts/\(s.secret)", token: ownKey.secret)
            XCTAssertEqual(viaOwnKey.code, 200, "the owner's key sees the owner's private record: \(viaOwnKey.text)")
            // Nothing was changed by the refused writes.
            let secret = try await R.get(api, s.team.member.accessToken, "contacts", s.secret)
            XCTAssertEqual(R.int(secret["version"]), 1)
            XCTAssertTrue(R.isNull(secret["title"]))
        }
    }

    func testOwnerAndAdminsSeeEverything() async throws {
        try await withApp { api, _ in
            let s = try await VisibilityTests.seed(api)
            for (label, token) in [("owner of the record", s.team.member.accessToken), ("admin", s.team.admin.accessToken),
                                   ("workspace owner", s.team.owner.accessToken)] {
                let one = try await api.get("/api/v1/contacts/\(s.secret)?expand=company", token: token)
                XCTAssertEqual(one.code, 200, "\(label): \(one.text)")
                XCTAssertEqual((one.data["company"] as? [String: Any])?["id"] as? String, s.secretCompany, label)
                let list = try await api.get("/api/v1/contacts?include_total=true", token: token)
                XCTAssertEqual(Set(R.ids(list.items)), [s.secret, s.open], label)
                XCTAssertEqual(R.int(list.json["total"]), 2, label)
                let hist = try await api.get("/api/v1/contacts/\(s.secret)/history", token: token)
                XCTAssertEqual(hist.code, 200, label)
                let timeline = try await api.get("/api/v1/contacts/\(s.secret)/timeline", token: token)
                XCTAssertTrue(R.ids(timeline.items).contains(s.secretNote), label)
                let note = try await api.get("/api/v1/notes/\(s.secretNote)", token: token)
                XCTAssertEqual(note.code, 200, label)
                let tags = try await api.get("/api/v1/tags?q=hush", token: token)
                XCTAssertEqual(R.int(tags.items.first?["count"]), 2, "\(label): \(tags.text)")
                let companyContacts = try await R.listIDs(api, token, "/api/v1/companies/\(s.secretCompany)/contacts")
                XCTAssertEqual(companyContacts, [s.secret], label)
            }
            let adminPatch = try await api.patch("/api/v1/contacts/\(s.secret)", token: s.team.admin.accessToken, json: ["title": "Handler"])
            XCTAssertEqual(adminPatch.code, 200, adminPatch.text)
        }
    }

    func testPrivateRecordsCannotBeReferencedOrMergedByOthers() async throws {
        try await withApp { api, _ in
            let s = try await VisibilityTests.seed(api)
            let t = s.team.member2.accessToken
            // A hidden company is not a valid company_id; a hidden contact not a note parent.
            R.assertError(try await api.post("/api/v1/contacts", token: t, json: ["first_name": "X", "company_id": s.secretCompany]), 422,
                          "validation_failed", field: "company_id", detailCode: "not_found", "private company_id")
            R.assertError(try await api.post("/api/v1/notes", token: t, json: ["body": "x", "related_to": ["type": "contact", "id": s.secret]]), 422,
                          "validation_failed", field: "related_to.id", detailCode: "not_found", "note on a private contact")
            R.assertError(try await api.post("/api/v1/notes", token: t, json: ["body": "x", "related_to": ["type": "company", "id": s.secretCompany]]), 422,
                          "validation_failed", field: "related_to.id", detailCode: "not_found", "note on a private company")
            // A clash with a private record is still a clash, but without the hidden id.
            let dup = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Y", "email": "agent@stealth.io"])
            R.assertError(dup, 409, "duplicate", field: "email", "duplicate of a private contact")
            XCTAssertNil(R.detail(dup, "email")?["existing_id"] as? String, "existing_id only when the caller may see the record: \(dup.text)")
            XCTAssertFalse(dup.text.contains(s.secret))
            let dupDomain = try await api.post("/api/v1/companies", token: t, json: ["name": "Z", "domain": "https://stealth.io"])
            XCTAssertEqual(dupDomain.code, 409, dupDomain.text)
            XCTAssertFalse(dupDomain.text.contains(s.secretCompany))
            // Merge: a private survivor is 404, a private source 422 not_found.
            let mine = try await R.contact(api, t, ["first_name": "Mine"])
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: s.secret, [mine]), 404, "not_found", "merge into a private contact")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: mine, [s.secret]), 422, "validation_failed", field: "source_ids[0]",
                          detailCode: "not_found", "merge a private contact away")
            let secret = try await R.get(api, s.team.member.accessToken, "contacts", s.secret)
            XCTAssertTrue(R.isNull(secret["deleted_at"]))
            // Expanding a visible contact's hidden company gives null, not the company.
            let linked = try await R.contact(api, s.team.member.accessToken, ["first_name": "Linked", "company_id": s.secretCompany])
            let exp = try await api.get("/api/v1/contacts/\(linked)?expand=company", token: t)
            XCTAssertEqual(exp.code, 200, exp.text)
            XCTAssertTrue(R.isNull(exp.data["company"]), "a hidden company must not be inlined: \(exp.text)")
            XCTAssertFalse(exp.text.contains("Stealth Startup"))
        }
    }

    func testChangingVisibility() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let m = team.member.accessToken
            let id = try await R.contact(api, m, ["first_name": "Shy"])
            let seen = try await api.get("/api/v1/contacts/\(id)", token: team.member2.accessToken)
            XCTAssertEqual(seen.code, 200)
            let hide = try await api.patch("/api/v1/contacts/\(id)", token: m, json: ["visibility": "private"])
            XCTAssertEqual(hide.code, 200, hide.text)
            let hidden = try await api.get("/api/v1/contacts/\(id)", token: team.member2.accessToken)
            XCTAssertEqual(hidden.code, 404)
            // Handing the private record to another member makes it theirs to see.
            let handOver = try await api.patch("/api/v1/contacts/\(id)", token: m, json: ["owner_id": team.member2ID])
            XCTAssertEqual(handOver.code, 200, handOver.text)
            let nowTheirs = try await api.get("/api/v1/contacts/\(id)", token: team.member2.accessToken)
            XCTAssertEqual(nowTheirs.code, 200, nowTheirs.text)
            let lostIt = try await api.get("/api/v1/contacts/\(id)", token: m)
            XCTAssertEqual(lostIt.code, 404, "the previous owner no longer sees a private record: \(lostIt.text)")
            let show = try await api.patch("/api/v1/contacts/\(id)", token: team.member2.accessToken, json: ["visibility": "workspace"])
            XCTAssertEqual(show.code, 200)
            let back = try await api.get("/api/v1/contacts/\(id)", token: m)
            XCTAssertEqual(back.code, 200)
            let hist = try await R.history(api, m, "contacts", id)
            XCTAssertEqual(hist.filter { $0["field"] as? String == "visibility" }.count, 3, "creation + two changes")
        }
    }
}
