import Foundation
import XCTest

final class EventsTests: XCTestCase {
    func testEventFeedFiltersWildcardsAndPrivacy() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let owner = try await api.signup()
            let t = owner.accessToken
            let c = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada", "email": "ada@example.com"])
            let cid = c.data["id"] as? String ?? ""
            _ = try await api.patch("/api/v1/contacts/\(cid)", token: t, json: ["title": "Countess"])
            let pipes = try await api.get("/api/v1/pipelines", token: t)
            let stages = (pipes.items.first?["stages"] as? [[String: Any]]) ?? []
            let deal = try await api.post("/api/v1/deals", token: t, json: ["name": "D", "stage_id": stages[0]["id"] as? String ?? ""])
            let did = deal.data["id"] as? String ?? ""
            _ = try await api.post("/api/v1/deals/\(did)/move", token: t, json: ["stage_id": stages[4]["id"] as? String ?? ""])

            let all = try await api.get("/api/v1/events", token: t)
            XCTAssertEqual(all.code, 200, all.text)
            let types = all.items.compactMap { $0["type"] as? String }
            XCTAssertTrue(types.contains("contact.created") && types.contains("contact.updated"), "\(types)")
            XCTAssertTrue(types.contains("deal.stage_changed") && types.contains("deal.won"), "\(types)")
            XCTAssertFalse(types.contains("deal.updated"), "a stage move emits the specific type only")
            let updated = all.items.first { $0["type"] as? String == "contact.updated" } ?? [:]
            let data = updated["data"] as? [String: Any] ?? [:]
            XCTAssertEqual(data["changed_fields"] as? [String], ["title"])
            XCTAssertEqual((data["object"] as? [String: Any])?["title"] as? String, "Countess")

            let deals = try await api.get("/api/v1/events?type=deal.*", token: t)
            XCTAssertTrue(deals.items.allSatisfy { ($0["type"] as? String ?? "").hasPrefix("deal.") })
            XCTAssertEqual(deals.items.count, 3, deals.text)
            let byObject = try await api.get("/api/v1/events?object_id=\(cid)", token: t)
            XCTAssertEqual(byObject.items.count, 2)
            let one = try await api.get("/api/v1/events/\(byObject.items.first?["id"] as? String ?? "")", token: t)
            XCTAssertEqual(one.code, 200)
            let awaited1 = try await api.get("/api/v1/events?type=nonsense.thing", token: t).code
            XCTAssertEqual(awaited1, 400)
            let awaited2 = try await api.get("/api/v1/events?created_after=yesterday", token: t).code
            XCTAssertEqual(awaited2, 400)
            let catalog = try await api.get("/api/v1/event-types", token: t)
            XCTAssertTrue(catalog.items.contains { $0["type"] as? String == "lead.converted" && $0["sample_payload"] != nil })

            // Members lack webhooks:read; other workspaces see nothing.
            let member = try await api.addMember(t, email: "m@example.com", role: "member")
            let awaited3 = try await api.get("/api/v1/events", token: member.accessToken).code
            XCTAssertEqual(awaited3, 403)
            let other = try await api.signup(email: "other@example.com", workspace: "Other")
            let foreign = try await api.get("/api/v1/events/\(byObject.items.first?["id"] as? String ?? "")", token: other.accessToken)
            XCTAssertEqual(foreign.code, 404)
            let otherAll = try await api.get("/api/v1/events", token: other.accessToken)
            XCTAssertEqual(otherAll.items.count, 0)
        }
    }
}

final class NotesSearchAndTagsTests: XCTestCase {
    func testNotesTextSearchAndProductTags() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let c = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"])
            let cid = c.data["id"] as? String ?? ""
            _ = try await api.post("/api/v1/notes", token: t, json: ["body": "Discussed the Analytical Engine", "related_to": ["type": "contact", "id": cid]])
            let found = try await api.get("/api/v1/notes?q=analytical", token: t)
            XCTAssertEqual(found.code, 200, found.text)
            XCTAssertEqual(found.items.count, 1)
            _ = try await api.post("/api/v1/products", token: t, json: ["name": "Widget", "tags": ["hardware"]])
            let tags = try await api.get("/api/v1/tags?q=hard", token: t)
            XCTAssertEqual(tags.items.first?["tag"] as? String, "hardware", tags.text)
        }
    }
}
