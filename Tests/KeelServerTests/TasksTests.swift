import Foundation
import KeelCore
import XCTest

final class TasksTests: XCTestCase {
    typealias R = RecordFixtures
    typealias C = CRMFixtures

    func testStatusesPrioritiesAndCompletion() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let me = try await IdentityFixtures.userID(api, t)
            let task = try await R.create(api, t, "tasks", ["title": "Call"])
            XCTAssertEqual(task["status"] as? String, "pending")
            XCTAssertEqual(task["priority"] as? String, "medium")
            XCTAssertEqual(task["assignee_id"] as? String, me, "defaults to the creator")
            XCTAssertTrue(R.isNull(task["related_to"]))
            XCTAssertTrue(R.isNull(task["completed_at"]))
            let id = task["id"] as? String ?? ""
            R.assertError(try await api.post("/api/v1/tasks", token: t, json: ["title": "X", "status": "done"]), 422, "validation_failed", field: "status")
            R.assertError(try await api.post("/api/v1/tasks", token: t, json: ["title": "X", "priority": "asap"]), 422, "validation_failed", field: "priority")
            R.assertError(try await api.post("/api/v1/tasks", token: t, json: ["title": "X", "due_at": "soon"]), 422, "validation_failed", field: "due_at")
            R.assertError(try await api.post("/api/v1/tasks", token: t, json: ["title": "X", "assignee_id": "usr_" + ULID.make()]), 422,
                          "validation_failed", field: "assignee_id")
            R.assertError(try await api.post("/api/v1/tasks", token: t, json: ["title": "X", "related_to": ["type": "pipeline", "id": "x"]]), 422,
                          "validation_failed")
            R.assertError(try await api.post("/api/v1/tasks", token: t, json: ["title": "X", "completed_at": "2020-01-01T00:00:00Z"]), 422,
                          "validation_failed")
            for p in ["low", "medium", "high", "urgent"] { C.expect(try await api.patch("/api/v1/tasks/\(id)", token: t, json: ["priority": p]), 200, p) }
            let done = try await api.patch("/api/v1/tasks/\(id)", token: t, json: ["status": "completed"])
            XCTAssertEqual(done.code, 200, done.text)
            let completedAt = done.data["completed_at"] as? String
            XCTAssertNotNil(completedAt)
            let still = try await api.patch("/api/v1/tasks/\(id)", token: t, json: ["title": "Call back"])
            XCTAssertEqual(still.data["completed_at"] as? String, completedAt, "editing a completed task keeps completed_at")
            let reopened = try await api.patch("/api/v1/tasks/\(id)", token: t, json: ["status": "in_progress"])
            XCTAssertTrue(R.isNull(reopened.data["completed_at"]), reopened.text)
            let cancelled = try await api.patch("/api/v1/tasks/\(id)", token: t, json: ["status": "cancelled"])
            XCTAssertTrue(R.isNull(cancelled.data["completed_at"]))
            let audit = try await R.audit(api, t, "action=task.updated&object_id=\(id)")
            XCTAssertGreaterThanOrEqual(audit.count, 4)
            // Soft delete and restore.
            try await R.delete(api, t, "tasks", id)
            C.expect(try await api.get("/api/v1/tasks/\(id)", token: t), 404)
            C.expect(try await api.post("/api/v1/tasks/\(id)/restore", token: t), 200)
        }
    }

    func testFilters() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.owner.accessToken
            let contact = try await R.contact(api, t, ["first_name": "Ann", "email": "ann@x.com"])
            let company = try await R.company(api, t, ["name": "Umbrella"])
            let a = try await C.task(api, t, ["title": "Overdue call", "due_at": "2020-01-01T00:00:00Z", "priority": "high",
                                              "related_to": ["type": "contact", "id": contact]])
            let b = try await C.task(api, t, ["title": "Future meeting", "due_at": "2099-01-01T00:00:00Z", "assignee_id": team.memberID,
                                              "related_to": ["type": "company", "id": company]])
            let c = try await C.task(api, t, ["title": "Old done", "due_at": "2020-06-01T00:00:00Z", "status": "completed", "priority": "low"])
            let d = try await C.task(api, t, ["title": "No date", "status": "in_progress", "related_to": ["type": "contact", "id": contact]])
            let cases: [(String, Set<String>)] = [
                ("status=pending", [a, b]), ("status=completed", [c]), ("status=in_progress", [d]),
                ("assignee_id=\(team.memberID)", [b]), ("assignee_id=\(team.ownerID)", [a, c, d]),
                ("priority=high", [a]), ("priority=low", [c]), ("priority=medium", [b, d]),
                ("due_before=2021-01-01T00:00:00Z", [a, c]), ("due_after=2021-01-01T00:00:00Z", [b]), ("due_before=2020-03-01", [a]),
                ("overdue=true", [a]), ("overdue=false", [b, c, d]),
                ("related_to_type=contact", [a, d]), ("related_to_type=company", [b]), ("related_to_id=\(contact)", [a, d]),
                ("related_to_type=contact&related_to_id=\(contact)&status=pending", [a]), ("q=meeting", [b]),
            ]
            for (query, expected) in cases {
                let got = try await R.listIDs(api, t, "/api/v1/tasks?\(query)")
                XCTAssertEqual(got, expected, query)
            }
            for bad in ["status=later", "priority=asap", "overdue=maybe", "due_before=yesterday", "assignee_id=usr_x"] {
                R.assertError(try await api.get("/api/v1/tasks?\(bad)", token: t), 400, "bad_request", bad)
            }
            let sorted = try await api.get("/api/v1/tasks?sort=due_at", token: t)
            XCTAssertEqual(R.ids(sorted.items), [a, c, b, d], "NULL due dates last")
            // The contact's timeline shows its tasks.
            let tl = try await api.get("/api/v1/contacts/\(contact)/timeline", token: t)
            XCTAssertEqual(Set(tl.items.filter { $0["type"] as? String == "task" }.compactMap { $0["id"] as? String }), [a, d])
        }
    }

    func testTasksOfPrivateRecordsAreHiddenAndOthersWorkspacesRecordsAreRefused() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let team = try await R.team(api)
            let secret = try await R.contact(api, team.member.accessToken, ["first_name": "Secret", "email": "s@x.com", "visibility": "private"])
            let hidden = try await C.task(api, team.member.accessToken, ["title": "Private follow-up", "related_to": ["type": "contact", "id": secret]])
            let open = try await C.task(api, team.member.accessToken, ["title": "Open"])
            let seen = try await R.listIDs(api, team.member2.accessToken, "/api/v1/tasks")
            XCTAssertEqual(seen, [open])
            C.expect(try await api.get("/api/v1/tasks/\(hidden)", token: team.member2.accessToken), 404)
            C.expect(try await api.patch("/api/v1/tasks/\(hidden)", token: team.member2.accessToken, json: ["title": "x"]), 404)
            let adminSees = try await R.listIDs(api, team.admin.accessToken, "/api/v1/tasks")
            XCTAssertEqual(adminSees, [hidden, open])
            // Another member may not attach a task to the private record.
            R.assertError(try await api.post("/api/v1/tasks", token: team.member2.accessToken,
                                             json: ["title": "x", "related_to": ["type": "contact", "id": secret]]), 422, "validation_failed",
                          field: "related_to.id", detailCode: "not_found")
            // Nor to another workspace's record.
            let other = try await api.signup(email: "other@example.com", workspace: "Other")
            let foreign = try await R.contact(api, other.accessToken, ["first_name": "F", "email": "f@x.com"])
            R.assertError(try await api.post("/api/v1/tasks", token: team.owner.accessToken,
                                             json: ["title": "x", "related_to": ["type": "contact", "id": foreign]]), 422, "validation_failed",
                          field: "related_to.id", detailCode: "not_found")
            // Viewers cannot write tasks.
            R.assertError(try await api.post("/api/v1/tasks", token: team.viewer.accessToken, json: ["title": "x"]), 403, "forbidden")
        }
    }
}
