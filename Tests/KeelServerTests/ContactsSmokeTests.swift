import Foundation
import XCTest

final class ContactsSmokeTests: XCTestCase {
    func testCreateListSearchPatchDeleteRestore() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let company = try await api.post("/api/v1/companies", token: t, json: ["name": "  Acme Inc ", "domain": "https://www.Acme.com/about"])
            XCTAssertEqual(company.code, 201, company.text)
            XCTAssertEqual(company.data["domain"] as? String, "acme.com")
            let cid = company.data["id"] as? String ?? ""
            let c = try await api.post("/api/v1/contacts", token: t, json: [
                "first_name": " Ada ", "last_name": "Lovelace", "email": " ADA@Example.com", "phone": "+44 (20) 7946-0958",
                "company_id": cid, "tags": ["VIP", "vip", "beta"], "address": ["city": "London"],
            ])
            XCTAssertEqual(c.code, 201, c.text)
            XCTAssertEqual(c.data["display_name"] as? String, "Ada Lovelace")
            XCTAssertEqual(c.data["email"] as? String, "ada@example.com")
            XCTAssertEqual(c.data["phone"] as? String, "+442079460958")
            XCTAssertEqual(c.data["tags"] as? [String], ["VIP", "beta"])
            XCTAssertEqual(c.header("ETag"), "\"1\"")
            let id = c.data["id"] as? String ?? ""
            let dup = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "X", "email": "ada@example.com"])
            XCTAssertEqual(dup.code, 409)
            XCTAssertEqual(dup.errorCode, "duplicate")
            XCTAssertEqual(dup.errorDetails.first?["existing_id"] as? String, id)
            let list = try await api.get("/api/v1/contacts?q=love&expand=company,owner", token: t)
            XCTAssertEqual(list.code, 200, list.text)
            XCTAssertEqual(list.items.count, 1)
            XCTAssertEqual((list.items.first?["company"] as? [String: Any])?["name"] as? String, "Acme Inc")
            let search = try await api.post("/api/v1/contacts/search", token: t, json: [
                "filter": ["and": [["field": "email", "op": "contains", "value": "EXAMPLE"], ["field": "tags", "op": "in", "value": ["vip"]]]],
                "sort": ["-created_at"], "limit": 10,
            ])
            XCTAssertEqual(search.code, 200, search.text)
            XCTAssertEqual(search.items.count, 1)
            let patched = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Countess", "phone": nil, "remove_tags": ["beta"]],
                                              headers: ["If-Match": "\"1\""])
            XCTAssertEqual(patched.code, 200, patched.text)
            XCTAssertEqual(patched.data["version"] as? Int, 2)
            XCTAssertTrue(patched.data["phone"] is NSNull)
            let stale = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Lady"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409)
            XCTAssertEqual(stale.errorCode, "version_conflict")
            let history = try await api.get("/api/v1/contacts/\(id)/history", token: t)
            XCTAssertEqual(history.code, 200, history.text)
            XCTAssertTrue(history.items.contains { $0["field"] as? String == "title" })
            let note = try await api.post("/api/v1/notes", token: t, json: ["body": "Met at **conference**", "related_to": ["type": "contact", "id": id]])
            XCTAssertEqual(note.code, 201, note.text)
            let timeline = try await api.get("/api/v1/contacts/\(id)/timeline?limit=3", token: t)
            XCTAssertEqual(timeline.code, 200, timeline.text)
            XCTAssertEqual(timeline.items.first?["type"] as? String, "note")
            let awaited1 = try await api.delete("/api/v1/contacts/\(id)", token: t).code
            XCTAssertEqual(awaited1, 204)
            let awaited2 = try await api.get("/api/v1/contacts/\(id)", token: t).code
            XCTAssertEqual(awaited2, 404)
            let restored = try await api.post("/api/v1/contacts/\(id)/restore", token: t)
            XCTAssertEqual(restored.code, 200, restored.text)
            let tags = try await api.get("/api/v1/tags?q=v", token: t)
            XCTAssertEqual(tags.items.first?["tag"] as? String, "VIP")
            let companyContacts = try await api.get("/api/v1/companies/\(cid)/contacts", token: t)
            XCTAssertEqual(companyContacts.items.count, 1, companyContacts.text)
        }
    }
}
