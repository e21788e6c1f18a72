import Foundation
import XCTest

final class LeadsTasksActivitiesSmokeTests: XCTestCase {
    func testConvertLeadLogActivityAndTimeline() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let lead = try await api.post("/api/v1/leads", token: t, json: ["name": "Grace Hopper", "email": "grace@navy.mil", "company_name": "Navy",
                                                                           "source": "referral", "value": 5000])
            XCTAssertEqual(lead.code, 201, lead.text)
            XCTAssertEqual(lead.data["status"] as? String, "new")
            let lid = lead.data["id"] as? String ?? ""
            let converted = try await api.post("/api/v1/leads/\(lid)/convert", token: t, json: ["create_deal": true])
            XCTAssertEqual(converted.code, 200, converted.text)
            XCTAssertEqual((converted.data["lead"] as? [String: Any])?["status"] as? String, "converted")
            let contact = converted.data["contact"] as? [String: Any] ?? [:]
            XCTAssertEqual(contact["email"] as? String, "grace@navy.mil")
            XCTAssertEqual((converted.data["company"] as? [String: Any])?["name"] as? String, "Navy")
            let deal = converted.data["deal"] as? [String: Any] ?? [:]
            XCTAssertEqual(deal["value"] as? Double, 5000)
            let again = try await api.post("/api/v1/leads/\(lid)/convert", token: t, json: [:])
            XCTAssertEqual(again.code, 422)
            XCTAssertEqual(again.errorCode, "invalid_transition")
            let cid = contact["id"] as? String ?? "", did = deal["id"] as? String ?? ""
            let task = try await api.post("/api/v1/tasks", token: t, json: ["title": "Call back", "due_at": "2020-01-01T00:00:00Z",
                                                                           "related_to": ["type": "contact", "id": cid]])
            XCTAssertEqual(task.code, 201, task.text)
            let overdue = try await api.get("/api/v1/tasks?overdue=true", token: t)
            XCTAssertEqual(overdue.items.count, 1, overdue.text)
            let done = try await api.patch("/api/v1/tasks/\(task.data["id"] as? String ?? "")", token: t, json: ["status": "completed"])
            XCTAssertFalse(done.data["completed_at"] is NSNull, done.text)
            let act = try await api.post("/api/v1/activities", token: t, json: ["type": "call", "subject": "Intro", "duration_seconds": 300,
                                                                               "related_to": [["type": "contact", "id": cid], ["type": "deal", "id": did]]])
            XCTAssertEqual(act.code, 201, act.text)
            let refreshed = try await api.get("/api/v1/contacts/\(cid)", token: t)
            XCTAssertFalse(refreshed.data["last_activity_at"] is NSNull, refreshed.text)
            let byRelated = try await api.get("/api/v1/activities?related_to_id=\(did)", token: t)
            XCTAssertEqual(byRelated.items.count, 1, byRelated.text)
            let timeline = try await api.get("/api/v1/deals/\(did)/timeline", token: t)
            let types = Set(timeline.items.compactMap { $0["type"] as? String })
            XCTAssertTrue(types.isSuperset(of: ["activity", "stage_move", "change"]), timeline.text)
            let contactTimeline = try await api.get("/api/v1/contacts/\(cid)/timeline", token: t)
            XCTAssertTrue(Set(contactTimeline.items.compactMap { $0["type"] as? String }).isSuperset(of: ["activity", "task"]), contactTimeline.text)
            let types2 = try await api.get("/api/v1/activities/types", token: t)
            XCTAssertEqual(types2.items.count, 6)
            let score = try await api.get("/api/v1/deals/\(did)/score", token: t)
            XCTAssertEqual(score.code, 200, score.text)
            XCTAssertEqual((score.data["factors"] as? [Any])?.count, 4)
            let contactDeals = try await api.get("/api/v1/contacts/\(cid)/deals", token: t)
            XCTAssertEqual(contactDeals.items.count, 1, contactDeals.text)
        }
    }
}
