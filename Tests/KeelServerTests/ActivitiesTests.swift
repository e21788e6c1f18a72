import Foundation
import KeelCore
import XCTest

final class ActivitiesTests: XCTestCase {
    typealias R = RecordFixtures
    typealias C = CRMFixtures

    func testTypesEndpointAndValidation() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let types = try await api.get("/api/v1/activities/types", token: t)
            XCTAssertEqual(types.code, 200, types.text)
            XCTAssertEqual(types.items.compactMap { $0["type"] as? String }, ["call", "meeting", "email", "note", "sms", "other"])
            XCTAssertTrue(types.items.allSatisfy { ($0["description"] as? String)?.isEmpty == false })
            let contact = try await R.contact(api, t, ["first_name": "A", "email": "a@x.com"])
            for (body, label) in [(["type": "fax", "related_to": [["type": "contact", "id": contact]]], "type"),
                                  (["type": "call"], "related_to missing"), (["type": "call", "related_to": []], "empty related_to"),
                                  (["type": "call", "related_to": [["type": "contact", "id": R.fakeID("con")]]], "unknown record"),
                                  (["type": "call", "related_to": [["type": "product", "id": contact]]], "unsupported type"),
                                  (["type": "call", "related_to": [["type": "contact", "id": contact]], "duration_seconds": -1], "duration"),
                                  (["type": "call", "related_to": [["type": "contact", "id": contact]], "direction": "sideways"], "direction"),
                                  (["type": "call", "related_to": [["type": "contact", "id": contact]], "occurred_at": "yesterday"], "occurred_at")]
                as [([String: Any], String)] {
                let r = try await api.post("/api/v1/activities", token: t, json: body)
                XCTAssertEqual(r.code, 422, "\(label): \(r.text)")
            }
        }
    }

    func testRelatedRecordsAndLastActivity() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let contact = try await R.contact(api, t, ["first_name": "A", "email": "a@x.com"])
            let company = try await R.company(api, t, ["name": "Co"])
            let deal = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In")])
            let lead = try await C.lead(api, t, ["name": "L"])
            let versionBefore = R.int(try await R.get(api, t, "contacts", contact)["version"])
            let act = try await C.activity(api, t, related: [("contact", contact), ("company", company), ("deal", deal), ("lead", lead)],
                                           extra: ["occurred_at": "2025-01-01T10:00:00.000Z", "duration_seconds": 60, "direction": "outbound"])
            XCTAssertTrue((act["id"] as? String)?.hasPrefix("act_") == true)
            XCTAssertEqual((act["related_to"] as? [[String: Any]])?.count, 4)
            for (objects, id) in [("contacts", contact), ("companies", company), ("deals", deal), ("leads", lead)] {
                let r = try await R.get(api, t, objects, id)
                XCTAssertEqual(r["last_activity_at"] as? String, "2025-01-01T10:00:00.000Z", objects)
            }
            let c1 = try await R.get(api, t, "contacts", contact)
            XCTAssertEqual(R.int(c1["version"]), versionBefore, "last_activity_at is derived: no version bump")
            // A later one moves it forward; an older one does not move it back.
            _ = try await C.activity(api, t, related: [("contact", contact)], extra: ["occurred_at": "2025-06-01T00:00:00.000Z"])
            _ = try await C.activity(api, t, related: [("contact", contact), ("deal", deal)], extra: ["occurred_at": "2024-01-01T00:00:00.000Z"])
            let c2 = try await R.get(api, t, "contacts", contact)
            XCTAssertEqual(c2["last_activity_at"] as? String, "2025-06-01T00:00:00.000Z")
            let d2 = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(d2["last_activity_at"] as? String, "2025-01-01T10:00:00.000Z")
            let hist = try await R.history(api, t, "contacts", contact)
            XCTAssertFalse(hist.contains { $0["field"] as? String == "last_activity_at" }, "no history row for a derived field")
        }
    }

    func testFilters() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.owner.accessToken
            let contact = try await R.contact(api, t, ["first_name": "A", "email": "a@x.com"])
            let company = try await R.company(api, t, ["name": "Co"])
            let a = try await C.activity(api, t, type: "call", related: [("contact", contact)], extra: ["occurred_at": "2025-01-01T00:00:00Z"])["id"] as? String ?? ""
            let b = try await C.activity(api, team.member.accessToken, type: "email", related: [("company", company)],
                                         extra: ["occurred_at": "2025-02-01T00:00:00Z"])["id"] as? String ?? ""
            let c = try await C.activity(api, t, type: "meeting", related: [("contact", contact), ("company", company)],
                                         extra: ["occurred_at": "2025-03-01T00:00:00Z"])["id"] as? String ?? ""
            let cases: [(String, Set<String>)] = [
                ("type=call", [a]), ("type=email", [b]), ("related_to_type=contact", [a, c]), ("related_to_type=company", [b, c]),
                ("related_to_id=\(contact)", [a, c]), ("related_to_id=\(company)", [b, c]), ("actor_id=\(team.memberID)", [b]),
                ("actor_id=\(team.ownerID)", [a, c]), ("from=2025-01-15T00:00:00Z", [b, c]), ("to=2025-02-01T00:00:00Z", [a, b]),
                ("from=2025-01-15T00:00:00Z&to=2025-02-15T00:00:00Z", [b]), ("type=meeting&related_to_id=\(contact)", [c]),
            ]
            for (query, expected) in cases {
                let got = try await R.listIDs(api, t, "/api/v1/activities?\(query)")
                XCTAssertEqual(got, expected, query)
            }
            for bad in ["type=fax", "from=later", "to=x"] {
                R.assertError(try await api.get("/api/v1/activities?\(bad)", token: t), 400, "bad_request", bad)
            }
        }
    }

    func testOnlyTheAuthorOrAnAdminCorrectsAndTheTrailStays() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let contact = try await R.contact(api, team.owner.accessToken, ["first_name": "A", "email": "a@x.com"])
            let act = try await C.activity(api, team.member.accessToken, related: [("contact", contact)], extra: ["subject": "Intro"])
            let id = act["id"] as? String ?? ""
            R.assertError(try await api.patch("/api/v1/activities/\(id)", token: team.member2.accessToken, json: ["subject": "Hijack"]), 403, "forbidden")
            R.assertError(try await api.delete("/api/v1/activities/\(id)", token: team.member2.accessToken), 403, "forbidden")
            R.assertError(try await api.patch("/api/v1/activities/\(id)", token: team.viewer.accessToken, json: ["subject": "V"]), 403, "forbidden")
            let fix = try await api.patch("/api/v1/activities/\(id)", token: team.member.accessToken, json: ["subject": "Intro call", "outcome": "connected"])
            XCTAssertEqual(fix.code, 200, fix.text)
            XCTAssertEqual(fix.data["subject"] as? String, "Intro call")
            let byAdmin = try await api.patch("/api/v1/activities/\(id)", token: team.admin.accessToken, json: ["outcome": "voicemail"])
            XCTAssertEqual(byAdmin.code, 200, byAdmin.text)
            C.expect(try await api.delete("/api/v1/activities/\(id)", token: team.member.accessToken), 204)
            C.expect(try await api.get("/api/v1/activities/\(id)", token: team.member.accessToken), 404)
            // The trail stays: history (admin may read deleted records' history via audit) and audit.
            let audit = try await R.audit(api, team.owner.accessToken, "object_id=\(id)")
            XCTAssertEqual(Set(audit.compactMap { $0["action"] as? String }), ["activity.created", "activity.updated", "activity.deleted"], "\(audit)")
            XCTAssertEqual(audit.filter { $0["action"] as? String == "activity.updated" }.count, 2)
            let deleted = try await api.get("/api/v1/activities/\(id)?include_deleted=true", token: team.owner.accessToken)
            XCTAssertEqual(deleted.code, 200, deleted.text)
            // The deleted activity leaves the contact's timeline and lists.
            let tl = try await api.get("/api/v1/contacts/\(contact)/timeline", token: team.owner.accessToken)
            XCTAssertFalse(tl.items.contains { $0["id"] as? String == id })
            let list = try await R.listIDs(api, team.owner.accessToken, "/api/v1/activities?related_to_id=\(contact)")
            XCTAssertEqual(list, [])
        }
    }

    func testActivitiesOfPrivateRecordsAreHidden() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let secret = try await R.contact(api, team.member.accessToken, ["first_name": "S", "email": "s@x.com", "visibility": "private"])
            let act = try await C.activity(api, team.member.accessToken, related: [("contact", secret)])
            let id = act["id"] as? String ?? ""
            let seen = try await R.listIDs(api, team.member2.accessToken, "/api/v1/activities")
            XCTAssertEqual(seen, [])
            C.expect(try await api.get("/api/v1/activities/\(id)", token: team.member2.accessToken), 404)
            let r = try await api.post("/api/v1/activities", token: team.member2.accessToken,
                                       json: ["type": "call", "related_to": [["type": "contact", "id": secret]]])
            R.assertError(r, 422, "validation_failed", field: "related_to[0].id", detailCode: "not_found")
        }
    }
}
