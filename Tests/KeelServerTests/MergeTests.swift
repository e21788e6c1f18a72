import Foundation
import KeelCore
import XCTest

final class MergeTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    static func merge(_ api: API, _ token: String, _ objects: String, into survivor: String, _ sources: [String]) async throws -> TestResponse {
        try await api.post("/api/v1/\(objects)/\(survivor)/merge", token: token, json: ["source_ids": sources])
    }

    func testMergingContactsMovesNotesTagsAndFillsEmptyFields() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.member.accessToken
            let acme = try await R.company(api, t, ["name": "Acme"])
            _ = try await R.customField(api, team.admin.accessToken, key: "tier", type: "text")
            _ = try await R.customField(api, team.admin.accessToken, key: "score", type: "number")
            let survivor = try await R.contact(api, t, ["first_name": "Ada", "last_name": "Lovelace", "tags": ["VIP"],
                                                        "custom_fields": ["tier": "gold"]])
            let s1 = try await R.contact(api, t, ["first_name": "Augusta", "email": "ada@example.com", "phone": "+442079460958", "title": "Countess",
                                                  "company_id": acme, "tags": ["vip", "math"], "custom_fields": ["tier": "silver", "score": 9]])
            let s2 = try await R.contact(api, t, ["first_name": "A.", "title": "Analyst", "lifecycle_stage": "customer", "tags": ["Poetry"]])
            let survivorNote = try await R.note(api, t, type: "contact", id: survivor, body: "on survivor")
            let n1 = try await R.note(api, t, type: "contact", id: s1, body: "on source 1")
            let n2 = try await R.note(api, t, type: "contact", id: s2, body: "on source 2")
            let survivorBefore = try await R.get(api, t, "contacts", survivor)

            let m = try await MergeTests.merge(api, t, "contacts", into: survivor, [s1, s2])
            XCTAssertEqual(m.code, 200, m.text)
            let c = m.data
            XCTAssertEqual(c["id"] as? String, survivor)
            XCTAssertEqual(c["first_name"] as? String, "Ada", "the survivor's own values win")
            XCTAssertEqual(c["last_name"] as? String, "Lovelace")
            XCTAssertEqual(c["email"] as? String, "ada@example.com", "empty fields are filled from the sources")
            XCTAssertEqual(c["phone"] as? String, "+442079460958")
            XCTAssertEqual(c["title"] as? String, "Countess", "the first source listed fills first")
            XCTAssertEqual(c["company_id"] as? String, acme)
            XCTAssertEqual(c["lifecycle_stage"] as? String, "customer")
            XCTAssertEqual(c["tags"] as? [String], ["VIP", "math", "Poetry"], "tags are united, case-insensitively")
            let cf = c["custom_fields"] as? [String: Any] ?? [:]
            XCTAssertEqual(cf["tier"] as? String, "gold")
            XCTAssertEqual(R.num(cf["score"]), 9)
            XCTAssertEqual(R.int(c["version"]), R.int(survivorBefore["version"])! + 1)
            XCTAssertEqual(m.header("ETag"), "\"\(R.int(c["version"]) ?? 0)\"")
            XCTAssertTrue(R.isNull(c["merged_into"]))

            // Sources are soft-deleted with merged_into.
            for s in [s1, s2] {
                R.assertError(try await api.get("/api/v1/contacts/\(s)", token: t), 404, "not_found", "merged source")
                let seen = try await api.get("/api/v1/contacts/\(s)?include_deleted=true", token: team.admin.accessToken)
                XCTAssertEqual(seen.code, 200, seen.text)
                XCTAssertEqual(seen.data["merged_into"] as? String, survivor)
                XCTAssertFalse(R.isNull(seen.data["deleted_at"]))
            }
            let list = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(list, [survivor])
            // Notes moved to the survivor and show in its timeline.
            for n in [n1, n2] {
                let note = try await R.get(api, t, "notes", n)
                XCTAssertEqual((note["related_to"] as? [String: Any])?["id"] as? String, survivor)
            }
            let timeline = try await api.get("/api/v1/contacts/\(survivor)/timeline?limit=200", token: t)
            let timelineNotes = Set(timeline.items.filter { $0["type"] as? String == "note" }.compactMap { $0["id"] as? String })
            XCTAssertEqual(timelineNotes, [survivorNote, n1, n2])
            // The e-mail now belongs to the survivor: a new contact with it clashes with the survivor.
            let dup = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "X", "email": "ada@example.com"])
            XCTAssertEqual(R.detail(dup, "email")?["existing_id"] as? String, survivor, dup.text)
            // Tag counts follow (sources are gone).
            let tags = try await api.get("/api/v1/tags", token: t)
            let counts = Dictionary(uniqueKeysWithValues: tags.items.map { (($0["tag"] as? String ?? "").lowercased(), R.int($0["count"]) ?? 0) })
            XCTAssertEqual(counts, ["vip": 1, "math": 1, "poetry": 1])
            // History: merge rows on the survivor and a merged_into row on each source; one audit entry.
            let hist = try await R.history(api, t, "contacts", survivor)
            let mergeRows = hist.filter { $0["source"] as? String == "merge" }
            XCTAssertTrue(Set(mergeRows.compactMap { $0["field"] as? String }).isSuperset(of: ["email", "phone", "title", "tags"]), "\(mergeRows)")
            let sourceHist = try await api.get("/api/v1/contacts/\(s1)/history", token: team.admin.accessToken)
            if sourceHist.code == 200 {
                XCTAssertTrue(sourceHist.items.contains { $0["field"] as? String == "merged_into" && $0["new"] as? String == survivor
                    && $0["source"] as? String == "merge" }, sourceHist.text)
            }
            let audits = try await R.audit(api, team.owner.accessToken, "action=contact.merged")
            XCTAssertEqual(audits.count, 1)
            XCTAssertEqual(audits.first?["object_id"] as? String, survivor)
            let sourceIDs = ((audits.first?["changes"] as? [String: Any])?["source_ids"] as? [String]) ?? []
            XCTAssertEqual(sourceIDs, [s1, s2])
            // A merged record cannot be restored into a second live copy.
            let restore = try await api.post("/api/v1/contacts/\(s1)/restore", token: team.admin.accessToken)
            XCTAssertNotEqual(restore.code, 200, "restoring a merged source would duplicate the survivor: \(restore.text)")
            let stillOne = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(stillOne, [survivor])
        }
    }

    func testMergingCompaniesMovesTheirContacts() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let survivor = try await R.company(api, t, ["name": "Acme", "tags": ["customer"]])
            let source = try await R.company(api, t, ["name": "ACME Inc.", "domain": "acme.com", "industry": "Tools", "annual_revenue": 1000,
                                                      "tags": ["Partner"]])
            let c1 = try await R.contact(api, t, ["first_name": "Ada", "company_id": source])
            let c2 = try await R.contact(api, t, ["first_name": "Bob", "company_id": source])
            let stay = try await R.contact(api, t, ["first_name": "Cy", "company_id": survivor])
            let deletedContact = try await R.contact(api, t, ["first_name": "Del", "company_id": source])
            try await R.delete(api, t, "contacts", deletedContact)
            let note = try await R.note(api, t, type: "company", id: source, body: "source note")

            let m = try await MergeTests.merge(api, t, "companies", into: survivor, [source])
            XCTAssertEqual(m.code, 200, m.text)
            XCTAssertEqual(m.data["name"] as? String, "Acme")
            XCTAssertEqual(m.data["domain"] as? String, "acme.com", "the source's domain fills the survivor's empty one")
            XCTAssertEqual(m.data["industry"] as? String, "Tools")
            XCTAssertEqual(R.num(m.data["annual_revenue"]), 1000)
            XCTAssertEqual(m.data["tags"] as? [String], ["customer", "Partner"])
            let contacts = try await R.listIDs(api, t, "/api/v1/companies/\(survivor)/contacts")
            XCTAssertEqual(contacts, [c1, c2, stay], "contacts move to the survivor")
            let ada = try await R.get(api, t, "contacts", c1)
            XCTAssertEqual(ada["company_id"] as? String, survivor)
            R.assertError(try await api.get("/api/v1/companies/\(source)/contacts", token: t), 404, "not_found", "merged company's contacts")
            let movedNote = try await R.get(api, t, "notes", note)
            XCTAssertEqual((movedNote["related_to"] as? [String: Any])?["id"] as? String, survivor)
            let restoredDeleted = try await api.post("/api/v1/contacts/\(deletedContact)/restore", token: t)
            XCTAssertEqual(restoredDeleted.data["company_id"] as? String, survivor, "even deleted contacts follow, so a restore does not point at a merged company")
            let dup = try await api.post("/api/v1/companies", token: t, json: ["name": "X", "domain": "acme.com"])
            XCTAssertEqual(R.detail(dup, "domain")?["existing_id"] as? String, survivor, dup.text)
            let audits = try await R.audit(api, t, "action=company.merged")
            XCTAssertEqual(audits.count, 1)
        }
    }

    func testMergeRefusals() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.member.accessToken
            let a = try await R.contact(api, t, ["first_name": "A"])
            let b = try await R.contact(api, t, ["first_name": "B"])
            let deleted = try await R.contact(api, t, ["first_name": "Deleted"])
            try await R.delete(api, t, "contacts", deleted)
            let company = try await R.company(api, t, ["name": "Co"])
            var many: [String] = []
            for i in 0..<10 { many.append(try await R.contact(api, t, ["first_name": "M\(i)"])) }

            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, [a]), 422, "validation_failed", field: "source_ids", "into itself")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, [b, a]), 422, "validation_failed", field: "source_ids", "itself among others")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, []), 422, "validation_failed", field: "source_ids", "no sources")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, many), 422, "validation_failed", field: "source_ids", "10 sources")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, [b, b]), 422, "validation_failed", field: "source_ids", "twice")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: deleted, [b]), 404, "not_found", "into a deleted record")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: R.fakeID("con"), [b]), 404, "not_found", "into an unknown record")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: company, [b]), 404, "not_found", "a company id as contact survivor")
            let fromDeleted = try await MergeTests.merge(api, t, "contacts", into: a, [deleted])
            XCTAssertEqual(fromDeleted.code, 422, "a deleted source: \(fromDeleted.text)")
            XCTAssertEqual(R.detailFields(fromDeleted).first, "source_ids[0]")
            let unknown = try await MergeTests.merge(api, t, "contacts", into: a, [b, R.fakeID("con")])
            R.assertError(unknown, 422, "validation_failed", field: "source_ids[1]", detailCode: "not_found", "unknown source")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, [company]), 422, "validation_failed", field: "source_ids[0]",
                          detailCode: "not_found", "company as contact source")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, ["' OR 1=1 --"]), 422, "validation_failed", field: "source_ids[0]",
                          detailCode: "not_found", "garbage source id")
            let notArray = try await api.post("/api/v1/contacts/\(a)/merge", token: t, json: ["source_ids": b])
            XCTAssertTrue(notArray.code == 400 || notArray.code == 422, "source_ids as a string: \(notArray.text)")
            let extra = try await api.post("/api/v1/contacts/\(a)/merge", token: t, json: ["source_ids": [b], "strategy": "newest"])
            XCTAssertEqual(extra.code, 422, extra.text)
            R.assertError(try await api.post("/api/v1/contacts/\(a)/merge", token: team.viewer.accessToken, json: ["source_ids": [b]]), 403, "forbidden",
                          "viewer merges")
            // Nothing happened.
            let list = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(list, Set([a, b] + many))
            let bNow = try await R.get(api, t, "contacts", b)
            XCTAssertEqual(R.int(bNow["version"]), 1)
            // A failing source anywhere in the list refuses the whole merge (no partial merge).
            let partial = try await MergeTests.merge(api, t, "contacts", into: a, [b, deleted])
            XCTAssertEqual(partial.code, 422)
            let bAfter = try await R.get(api, t, "contacts", b)
            XCTAssertTrue(R.isNull(bAfter["merged_into"]))
            // Nine sources is the limit.
            let nine = try await MergeTests.merge(api, t, "contacts", into: a, Array(many.prefix(9)))
            XCTAssertEqual(nine.code, 200, nine.text)
        }
    }

    func testMergeChains() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let a = try await R.contact(api, t, ["first_name": "A", "email": "a@example.com", "tags": ["from-a"]])
            let b = try await R.contact(api, t, ["first_name": "B", "tags": ["from-b"]])
            let c = try await R.contact(api, t, ["first_name": "C", "tags": ["from-c"]])
            let noteA = try await R.note(api, t, type: "contact", id: a, body: "a's note")
            let ab = try await MergeTests.merge(api, t, "contacts", into: b, [a])
            XCTAssertEqual(ab.code, 200, ab.text)
            XCTAssertEqual(ab.data["email"] as? String, "a@example.com")
            // A is gone: merging it again, or into it, is refused.
            let again = try await MergeTests.merge(api, t, "contacts", into: c, [a])
            XCTAssertEqual(again.code, 422, "an already-merged source: \(again.text)")
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: a, [c]), 404, "not_found", "into a merged record")
            // B merges on into C: C ends up with everything.
            let bc = try await MergeTests.merge(api, t, "contacts", into: c, [b])
            XCTAssertEqual(bc.code, 200, bc.text)
            XCTAssertEqual(bc.data["email"] as? String, "a@example.com")
            XCTAssertEqual(Set(bc.data["tags"] as? [String] ?? []), ["from-a", "from-b", "from-c"])
            let note = try await R.get(api, t, "notes", noteA)
            XCTAssertEqual((note["related_to"] as? [String: Any])?["id"] as? String, c, "notes follow the chain")
            let bDeleted = try await api.get("/api/v1/contacts/\(b)?include_deleted=true", token: t)
            XCTAssertEqual(bDeleted.data["merged_into"] as? String, c)
            let aDeleted = try await api.get("/api/v1/contacts/\(a)?include_deleted=true", token: t)
            let aTarget = aDeleted.data["merged_into"] as? String
            XCTAssertTrue(aTarget == b || aTarget == c, "A points along the chain: \(aDeleted.text)")
            // Following merged_into from A always reaches a live record.
            var cursor = aTarget
            var hops = 0
            while let id = cursor, hops < 5 {
                let r = try await api.get("/api/v1/contacts/\(id)?include_deleted=true", token: t)
                if R.isNull(r.data["deleted_at"]) { break }
                cursor = r.data["merged_into"] as? String
                hops += 1
            }
            XCTAssertEqual(cursor, c)
            // A cycle is impossible: C cannot be merged into B (B is deleted) nor B into C again.
            R.assertError(try await MergeTests.merge(api, t, "contacts", into: b, [c]), 404, "not_found", "into a merged record (cycle)")
            let list = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(list, [c])
        }
    }

    func testMergeKeepsAWorkingSurvivorWhenASourceLinksToADeletedCompany() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let gone = try await R.company(api, t, ["name": "Gone Inc"])
            let survivor = try await R.contact(api, t, ["first_name": "Survivor"])
            let source = try await R.contact(api, t, ["first_name": "Source", "company_id": gone])
            try await R.delete(api, t, "companies", gone)
            // Deleting a company keeps links (api.md §1 Soft delete); such a link must not make the merge fail.
            let m = try await MergeTests.merge(api, t, "contacts", into: survivor, [source])
            XCTAssertEqual(m.code, 200, "merge with a source linked to a deleted company: \(m.text)")
            let list = try await R.listIDs(api, t, "/api/v1/contacts")
            if m.code == 200 { XCTAssertEqual(list, [survivor]) }
        }
    }

    func testCheckDuplicatesForContacts() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.member.accessToken
            let ada = try await R.contact(api, t, ["first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958"])
            let adah = try await R.contact(api, t, ["first_name": "Adah", "last_name": "Lovelace"])
            let other = try await R.contact(api, t, ["first_name": "Grace", "last_name": "Hopper"])
            let hidden = try await R.contact(api, team.member2.accessToken, ["first_name": "Ada", "last_name": "Lovelace", "visibility": "private",
                                                                             "email": "secret-ada@example.com"])
            func candidates(_ r: TestResponse) -> [String] { r.items.compactMap { ($0["record"] as? [String: Any])?["id"] as? String } }

            let byEmail = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["email": " ADA@example.com "])
            XCTAssertEqual(byEmail.code, 200, byEmail.text)
            XCTAssertEqual(candidates(byEmail), [ada])
            XCTAssertEqual(R.num(byEmail.items.first?["score"]), 1.0)
            XCTAssertEqual(byEmail.items.first?["reasons"] as? [String], ["email_match"])
            let byPhone = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["phone": "0044 (20) 7946-0958"])
            XCTAssertEqual(candidates(byPhone), [ada])
            XCTAssertTrue((byPhone.items.first?["reasons"] as? [String] ?? []).contains("phone_match"))
            let byName = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["first_name": "ada", "last_name": "LOVELACE"])
            let names = candidates(byName)
            XCTAssertEqual(names.first, ada, "the exact name ranks first: \(byName.text)")
            XCTAssertTrue(names.contains(adah), "a similar name is a candidate: \(byName.text)")
            XCTAssertFalse(names.contains(other))
            XCTAssertFalse(names.contains(hidden), "a private record is never shown to someone who cannot open it")
            let scores = byName.items.compactMap { R.num($0["score"]) }
            XCTAssertEqual(scores, scores.sorted(by: >), "best first")
            for item in byName.items {
                let score = R.num(item["score"]) ?? -1
                XCTAssertTrue(score > 0 && score <= 1, "\(item)")
                XCTAssertFalse((item["reasons"] as? [String] ?? []).isEmpty)
            }
            let everything = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["email": "ada@example.com", "first_name": "Ada",
                                                                                                      "last_name": "Lovelace"])
            let top = everything.items.first
            XCTAssertEqual((top?["record"] as? [String: Any])?["id"] as? String, ada)
            XCTAssertEqual(Set(top?["reasons"] as? [String] ?? []), ["email_match", "name_exact"])
            XCTAssertEqual(R.num(top?["score"]), 1.0, "scores are capped at 1")
            let secret = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["email": "secret-ada@example.com"])
            XCTAssertTrue(secret.items.isEmpty, "private: \(secret.text)")
            let adminView = try await api.post("/api/v1/contacts/check-duplicates", token: team.admin.accessToken, json: ["email": "secret-ada@example.com"])
            XCTAssertEqual(candidates(adminView), [hidden])

            R.assertError(try await api.post("/api/v1/contacts/check-duplicates", token: t, json: [String: Any]()), 422, "validation_failed", "no criteria")
            R.assertError(try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["first_name": "  "]), 422, "validation_failed", "blank")
            R.assertError(try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["email": "nope"]), 422, "validation_failed",
                          field: "email", "bad email")
            R.assertError(try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["phone": "none"]), 422, "validation_failed",
                          field: "phone", "bad phone")
            R.assertError(try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["email": "a@b.co", "domain": "x.com"]), 422,
                          "validation_failed", "unknown key")
            // Merged and deleted records are not candidates.
            let merged = try await MergeTests.merge(api, t, "contacts", into: ada, [adah])
            XCTAssertEqual(merged.code, 200, merged.text)
            let afterMerge = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["first_name": "Adah", "last_name": "Lovelace"])
            XCTAssertFalse(candidates(afterMerge).contains(adah), afterMerge.text)
        }
    }
}
