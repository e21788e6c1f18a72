import Foundation
import KeelCore
import KeelStorage
import SQLKit
import XCTest

final class SchedulerTests: XCTestCase {
    static let day: Int64 = 86_400_000
    static var nowMillis: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func testTaskOverdueIsEmittedOncePerTask() async throws {
        try await withAppAndDatabase(workersOn) { api, db in
            let t = try await api.signup().accessToken
            let due = try await api.post("/api/v1/tasks", token: t, json: ["title": "Call back", "due_at": "2030-01-01T00:00:00Z"]).data["id"] as? String ?? ""
            let done = try await api.post("/api/v1/tasks", token: t, json: ["title": "Done already", "due_at": "2030-01-01T00:00:00Z"]).data["id"] as? String ?? ""
            _ = try await api.patch("/api/v1/tasks/\(done)", token: t, json: ["status": "completed"])
            let past = SchedulerTests.nowMillis - SchedulerTests.day
            try await db.withSQL { try await $0.raw("UPDATE tasks SET due_at = \(bind: past)").run() }
            try await eventually("task.overdue") { try await api.get("/api/v1/events?type=task.overdue", token: t).items.count == 1 }
            try await Task.sleep(for: .milliseconds(2500))
            let events = try await api.get("/api/v1/events?type=task.overdue", token: t).items
            XCTAssertEqual(events.count, 1, "once per task, however many ticks pass")
            XCTAssertEqual(events.first?["object_id"] as? String ?? ((events.first?["data"] as? [String: Any])?["object"] as? [String: Any])?["id"] as? String, due)
            XCTAssertEqual((events.first?["actor"] as? [String: Any])?["type"] as? String, "system")
        }
    }

    func testDealStaleIsEmittedOncePerStalenessEpisode() async throws {
        try await withAppAndDatabase(workersOn) { api, db in
            let t = try await api.signup().accessToken
            let stages = try await PipelineStages.load(api, t)
            let did = try await api.post("/api/v1/deals", token: t, json: ["name": "Quiet", "stage_id": stages.firstOpen]).data["id"] as? String ?? ""
            _ = try await api.post("/api/v1/deals", token: t, json: ["name": "Fresh", "stage_id": stages.firstOpen])
            let old = SchedulerTests.nowMillis - 40 * SchedulerTests.day
            try await db.withSQL { try await $0.raw("UPDATE deals SET stage_entered_at = \(bind: old) WHERE id = \(bind: did)").run() }
            try await eventually("deal.stale") { try await api.get("/api/v1/events?type=deal.stale", token: t).items.count == 1 }
            let first = try await api.get("/api/v1/events?type=deal.stale", token: t).items.first ?? [:]
            XCTAssertEqual(((first["data"] as? [String: Any])?["object"] as? [String: Any])?["id"] as? String, did)
            XCTAssertEqual(((first["data"] as? [String: Any])?["object"] as? [String: Any])?["is_stale"] as? Bool, true)
            try await Task.sleep(for: .milliseconds(2500))
            let still = try await api.get("/api/v1/events?type=deal.stale", token: t).items.count
            XCTAssertEqual(still, 1, "one event per episode")
            // Activity ends the episode; going quiet again starts a new one.
            let later = SchedulerTests.nowMillis - 35 * SchedulerTests.day
            try await db.withSQL { try await $0.raw("UPDATE deals SET last_activity_at = \(bind: later) WHERE id = \(bind: did)").run() }
            try await eventually("a second episode") { try await api.get("/api/v1/events?type=deal.stale", token: t).items.count == 2 }
        }
    }

    func testScheduledAutomationRunsOverMatchingRecords() async throws {
        try await withAppAndDatabase(workersOn) { api, db in
            let t = try await api.signup().accessToken
            let vip = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "V", "email": "v@vip.example"]).data["id"] as? String ?? ""
            let plain = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "P", "email": "p@plain.example"]).data["id"] as? String ?? ""
            let r = try await api.post("/api/v1/automations", token: t, json: [
                "name": "Daily VIP tag", "is_active": true,
                "trigger": ["event": "schedule", "cron": "0 9 * * *", "object_type": "contact",
                            "conditions": [["field": "contact.email", "op": "contains", "value": "@vip."]]],
                "actions": [["type": "add_tags", "config": ["tags": ["vip"]]]]])
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            let next = try XCTUnwrap(Timestamp.parse(r.data["next_run_at"] as? String ?? ""))
            XCTAssertGreaterThan(next, Date())
            let due = SchedulerTests.nowMillis - 1000
            try await db.withSQL { try await $0.raw("UPDATE automations SET next_run_at = \(bind: due) WHERE id = \(bind: id)").run() }
            try await eventually("the scheduled run") { try await runs(api, t, id).first?["status"] as? String == "completed" }
            let all = try await runs(api, t, id)
            XCTAssertEqual(all.count, 1, "one run per matching record")
            XCTAssertEqual(all.first?["source"] as? String, "schedule")
            XCTAssertEqual(all.first?["object_id"] as? String, vip)
            let vipTags = try await api.get("/api/v1/contacts/\(vip)", token: t).data["tags"] as? [String]
            XCTAssertEqual(vipTags, ["vip"])
            let plainTags = try await api.get("/api/v1/contacts/\(plain)", token: t).data["tags"] as? [String]
            XCTAssertEqual(plainTags, [])
            let advanced = try await api.get("/api/v1/automations/\(id)", token: t).data["next_run_at"] as? String
            XCTAssertGreaterThan(Timestamp.parse(advanced ?? "") ?? .distantPast, Date(), "the schedule moved on to its next firing")
        }
    }

    func testRetentionPurgesOldSoftDeletedRowsEventsAndLogs() async throws {
        try await withAppAndDatabase(workersOn) { api, db in
            let t = try await api.signup().accessToken
            let oldID = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Old", "tags": ["x"]]).data["id"] as? String ?? ""
            let recentID = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Recent"]).data["id"] as? String ?? ""
            _ = try await api.delete("/api/v1/contacts/\(oldID)", token: t)
            _ = try await api.delete("/api/v1/contacts/\(recentID)", token: t)
            let longAgo = SchedulerTests.nowMillis - 31 * SchedulerTests.day
            try await eventually("events dispatched") {
                try await db.withSQL { try await $0.raw("SELECT COUNT(*) AS n FROM outbox_events WHERE dispatched_at IS NULL").first()?.decode(column: "n", as: Int.self) } == 0
            }
            try await db.withSQL { db in
                try await db.raw("UPDATE contacts SET deleted_at = \(bind: longAgo) WHERE id = \(bind: oldID)").run()
                try await db.raw("UPDATE outbox_events SET occurred_at = \(bind: longAgo) WHERE object_id = \(bind: oldID)").run()
            }
            try await eventually("the old contact to be purged") {
                try await db.withSQL { try await $0.raw("SELECT COUNT(*) AS n FROM contacts WHERE id = \(bind: oldID)").first()?.decode(column: "n", as: Int.self) } == 0
            }
            let restoreOld = try await api.post("/api/v1/contacts/\(oldID)/restore", token: t).code
            XCTAssertEqual(restoreOld, 404, "past 30 days a deleted record is gone for good")
            let restoreRecent = try await api.post("/api/v1/contacts/\(recentID)/restore", token: t).code
            XCTAssertEqual(restoreRecent, 200, "within 30 days it can still be restored")
            let tags = try await db.withSQL { try await $0.raw("SELECT COUNT(*) AS n FROM record_tags WHERE object_id = \(bind: oldID)").first()?.decode(column: "n", as: Int.self) }
            XCTAssertEqual(tags, 0)
            try await eventually("old events purged") {
                try await db.withSQL { try await $0.raw("SELECT COUNT(*) AS n FROM outbox_events WHERE object_id = \(bind: oldID)").first()?.decode(column: "n", as: Int.self) } == 0
            }
            let history = try await db.withSQL { try await $0.raw("SELECT COUNT(*) AS n FROM field_history WHERE object_id = \(bind: oldID)").first()?.decode(column: "n", as: Int.self) }
            XCTAssertGreaterThan(history ?? 0, 0, "history is kept forever")
        }
    }
}

final class WorkspacePurgeTests: XCTestCase {
    func testADeletedWorkspaceIsPurgedAfterItsGracePeriod() async throws {
        try await withAppAndDatabase({ workersOn(&$0); $0.openSignup = true }) { api, db in
            let gone = try await api.signup(email: "gone@example.com", workspace: "Gone")
            let kept = try await api.signup(email: "kept@example.com", workspace: "Kept")
            _ = try await api.post("/api/v1/contacts", token: gone.accessToken, json: ["first_name": "Bye"])
            _ = try await api.post("/api/v1/contacts", token: kept.accessToken, json: ["first_name": "Stay"])
            let deleted = try await api.delete("/api/v1/workspace", token: gone.accessToken)
            XCTAssertEqual(deleted.code, 204, deleted.text)
            let count = { @Sendable (sql: SQLQueryString) async throws -> Int in
                try await db.withSQL { try await $0.raw(sql).first()?.decode(column: "n", as: Int.self) } ?? -1
            }
            try await Task.sleep(for: .milliseconds(1500))
            let during = try await count("SELECT COUNT(*) AS n FROM workspaces WHERE id = \(bind: gone.workspaceID)")
            XCTAssertEqual(during, 1, "kept during the grace period")
            let past = SchedulerTests.nowMillis - 1000
            try await db.withSQL { try await $0.raw("UPDATE workspaces SET purge_after = \(bind: past) WHERE id = \(bind: gone.workspaceID)").run() }
            try await eventually("the workspace to be purged") {
                try await count("SELECT COUNT(*) AS n FROM workspaces WHERE id = \(bind: gone.workspaceID)") == 0
            }
            let contacts = try await count("SELECT COUNT(*) AS n FROM contacts WHERE workspace_id = \(bind: gone.workspaceID)")
            XCTAssertEqual(contacts, 0)
            let members = try await count("SELECT COUNT(*) AS n FROM members WHERE workspace_id = \(bind: gone.workspaceID)")
            XCTAssertEqual(members, 0)
            let other = try await count("SELECT COUNT(*) AS n FROM contacts WHERE workspace_id = \(bind: kept.workspaceID)")
            XCTAssertEqual(other, 1, "other workspaces are untouched")
        }
    }
}
