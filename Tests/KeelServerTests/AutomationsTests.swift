import Foundation
import KeelCore
import KeelServer
import KeelStorage
import SQLKit
import XCTest

struct PipelineStages {
    let pipelineID: String
    let ids: [String]
    let types: [String]
    var firstOpen: String { ids[types.firstIndex(of: "open") ?? 0] }
    var secondOpen: String { ids.enumerated().filter { types[$0.offset] == "open" }.dropFirst().first?.element ?? ids[0] }
    var won: String { ids[types.firstIndex(of: "won") ?? 0] }
    var lost: String { ids[types.firstIndex(of: "lost") ?? 0] }

    static func load(_ api: API, _ t: String) async throws -> PipelineStages {
        let pipes = try await api.get("/api/v1/pipelines", token: t)
        let pipe = pipes.items.first ?? [:]
        let stages = pipe["stages"] as? [[String: Any]] ?? []
        return PipelineStages(pipelineID: pipe["id"] as? String ?? "", ids: stages.compactMap { $0["id"] as? String },
                              types: stages.compactMap { $0["type"] as? String })
    }
}

func automation(_ api: API, _ t: String, _ body: [String: Any]) async throws -> String {
    let r = try await api.post("/api/v1/automations", token: t, json: body)
    XCTAssertEqual(r.code, 201, r.text)
    return r.data["id"] as? String ?? ""
}

func runs(_ api: API, _ t: String, _ id: String) async throws -> [[String: Any]] {
    try await api.get("/api/v1/automations/\(id)/runs?limit=200", token: t).items
}

final class AutomationsTests: XCTestCase {
    func testCrudValidationAndIsolation() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await api.signup(email: "a@example.com", workspace: "A").accessToken
            let b = try await api.signup(email: "b@example.com", workspace: "B").accessToken
            let stagesB = try await PipelineStages.load(api, b)
            let body: [String: Any] = ["name": "Tag won deals", "trigger": ["event": "deal.won"],
                                       "actions": [["type": "add_tags", "config": ["tags": ["won"]]]]]
            let r = try await api.post("/api/v1/automations", token: a, json: body)
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("aut_"))
            XCTAssertEqual(r.header("Location"), "/api/v1/automations/\(id)")
            XCTAssertEqual(r.data["is_active"] as? Bool, false, "automations start switched off")
            XCTAssertEqual((r.data["trigger"] as? [String: Any])?["event"] as? String, "deal.won")
            let listed = try await api.get("/api/v1/automations?is_active=false", token: a)
            XCTAssertEqual(listed.items.count, 1)
            let none = try await api.get("/api/v1/automations?is_active=true", token: a)
            XCTAssertEqual(none.items.count, 0)
            let on = try await api.patch("/api/v1/automations/\(id)", token: a, json: ["is_active": true])
            XCTAssertEqual(on.code, 200, on.text)
            XCTAssertEqual(on.data["is_active"] as? Bool, true)
            XCTAssertEqual(on.data["version"] as? Int, 2)
            let stale = try await api.patch("/api/v1/automations/\(id)", token: a, json: ["name": "x", "version": 1])
            XCTAssertEqual(stale.code, 409)

            let foreignStage = try await api.post("/api/v1/automations", token: a, json: [
                "name": "x", "trigger": ["event": "deal.created"], "actions": [["type": "move_stage", "config": ["stage_id": stagesB.won]]]])
            XCTAssertEqual(foreignStage.code, 422)
            XCTAssertEqual(foreignStage.errorDetails.first?["code"] as? String, "not_found")
            let stranger = try await api.post("/api/v1/automations", token: a, json: [
                "name": "x", "trigger": ["event": "deal.created"], "actions": [["type": "assign_owner", "config": ["user_id": "usr_01JD5X8Q2M7V3R9K4T6W8Y0Z1A"]]]])
            XCTAssertEqual(stranger.code, 422)
            let badCron = try await api.post("/api/v1/automations", token: a, json: [
                "name": "x", "trigger": ["event": "schedule", "cron": "every day", "object_type": "deal"], "actions": [["type": "add_tags", "config": ["tags": ["t"]]]]])
            XCTAssertEqual(badCron.code, 422)
            XCTAssertEqual(badCron.errorDetails.first?["field"] as? String, "trigger.cron")
            let count = try await api.get("/api/v1/automations", token: a).items.count
            XCTAssertEqual(count, 1, "refused bodies create nothing")

            let contact = try await api.post("/api/v1/contacts", token: a, json: ["first_name": "Ada"]).data["id"] as? String ?? ""
            let tagger = try await automation(api, a, ["name": "Tag", "trigger": ["event": "contact.created"],
                                                      "actions": [["type": "add_tags", "config": ["tags": ["seen"]]]]])
            let run = try await api.post("/api/v1/automations/\(tagger)/run", token: a, json: ["object_id": contact])
            XCTAssertEqual(run.code, 200, run.text)
            let runID = run.data["id"] as? String ?? ""
            for (method, path) in [("GET", "/api/v1/automations/\(id)"), ("PATCH", "/api/v1/automations/\(id)"), ("DELETE", "/api/v1/automations/\(id)"),
                                   ("POST", "/api/v1/automations/\(tagger)/run"), ("POST", "/api/v1/automations/\(tagger)/test"),
                                   ("GET", "/api/v1/automations/\(tagger)/runs"), ("GET", "/api/v1/automations/runs/\(runID)")] {
                let r: TestResponse
                switch method {
                case "GET": r = try await api.get(path, token: b)
                case "PATCH": r = try await api.patch(path, token: b, json: ["name": "mine"])
                case "DELETE": r = try await api.delete(path, token: b)
                default: r = try await api.post(path, token: b, json: ["object_id": contact])
                }
                XCTAssertEqual(r.code, 404, "\(method) \(path) from another workspace: \(r.text)")
            }
            let bTrigger = try await api.post("/api/v1/automations/trigger", token: b, json: ["event": "contact.created", "object_id": contact])
            XCTAssertTrue([200, 422].contains(bTrigger.code))
            XCTAssertEqual(bTrigger.items.count, 0, "B's trigger cannot reach A's record or automations")
            let listB = try await api.get("/api/v1/automations", token: b).items.count
            XCTAssertEqual(listB, 0)

            let gone = try await api.delete("/api/v1/automations/\(id)", token: a)
            XCTAssertEqual(gone.code, 204)
            let after = try await api.get("/api/v1/automations/\(id)", token: a).code
            XCTAssertEqual(after, 404)
        }
    }

    func testEventTriggeredActionsRunAsTheAutomation() async throws {
        try await withApp(workersOn) { api, _ in
            let t = try await api.signup().accessToken
            let stages = try await PipelineStages.load(api, t)
            let id = try await automation(api, t, [
                "name": "Won follow-up", "is_active": true,
                "trigger": ["event": "deal.stage_changed", "conditions": [["field": "deal.stage.type", "op": "eq", "value": "won"],
                                                                         ["field": "changed_fields", "op": "contains", "value": "stage_id"]]],
                "actions": [
                    ["type": "add_tags", "config": ["tags": ["won", "thank-you"]]],
                    ["type": "update_field", "config": ["field": "source", "value": "won by {{record.name}}"]],
                    ["type": "create_task", "config": ["title": "Thank {{record.name}}", "priority": "high", "due_in_days": 2]],
                    ["type": "create_note", "config": ["body": "Closed {{record.name}} at {{record.value}}"]],
                    ["type": "send_email", "config": ["to": "sales@example.com", "subject": "Won: {{record.name}}", "body": "Well done"]],
                ]])
            let deal = try await api.post("/api/v1/deals", token: t, json: ["name": "Big", "stage_id": stages.firstOpen, "value": 1000])
            let did = deal.data["id"] as? String ?? ""
            let moved = try await api.post("/api/v1/deals/\(did)/move", token: t, json: ["stage_id": stages.won])
            XCTAssertEqual(moved.code, 200, moved.text)
            try await eventually("a completed run") { try await runs(api, t, id).contains { $0["status"] as? String == "completed" } }
            let run = try await runs(api, t, id).first ?? [:]
            XCTAssertEqual(run["source"] as? String, "event")
            XCTAssertEqual(run["object_id"] as? String, did)
            XCTAssertNotNil(run["event_id"] as? String)
            let actions = run["actions"] as? [[String: Any]] ?? []
            XCTAssertEqual(actions.map { $0["status"] as? String ?? "" }, Array(repeating: "completed", count: 5), "\(actions)")

            let after = try await api.get("/api/v1/deals/\(did)", token: t).data
            XCTAssertEqual(Set(after["tags"] as? [String] ?? []), ["won", "thank-you"])
            XCTAssertEqual(after["source"] as? String, "won by Big")
            let tasks = try await api.get("/api/v1/tasks", token: t).items
            XCTAssertEqual(tasks.first?["title"] as? String, "Thank Big")
            XCTAssertEqual(tasks.first?["priority"] as? String, "high")
            XCTAssertEqual((tasks.first?["related_to"] as? [String: Any])?["id"] as? String, did)
            let notes = try await api.get("/api/v1/notes", token: t).items
            XCTAssertTrue((notes.first?["body"] as? String ?? "").hasPrefix("Closed Big at 1000"), "\(notes)")

            let history = try await api.get("/api/v1/deals/\(did)/history", token: t).items
            let tagged = history.first { $0["field"] as? String == "source" } ?? [:]
            XCTAssertEqual(tagged["source"] as? String, "automation")
            XCTAssertEqual((tagged["actor"] as? [String: Any])?["type"] as? String, "automation")
            XCTAssertEqual((tagged["actor"] as? [String: Any])?["id"] as? String, id)
            let events = try await api.get("/api/v1/events?type=deal.updated&object_id=\(did)", token: t).items
            XCTAssertFalse(events.isEmpty)
            XCTAssertTrue(events.allSatisfy { ($0["actor"] as? [String: Any])?["type"] as? String == "automation" })

            // A move that does not meet the conditions is recorded as skipped, with nothing done.
            let d2 = try await api.post("/api/v1/deals", token: t, json: ["name": "Small", "stage_id": stages.firstOpen]).data["id"] as? String ?? ""
            _ = try await api.post("/api/v1/deals/\(d2)/move", token: t, json: ["stage_id": stages.secondOpen])
            try await eventually("a skipped run") { try await runs(api, t, id).contains { $0["status"] as? String == "skipped" } }
            let untouched = try await api.get("/api/v1/deals/\(d2)", token: t).data["tags"] as? [String]
            XCTAssertEqual(untouched, [])
            let runID = run["id"] as? String ?? ""
            let one = try await api.get("/api/v1/automations/runs/\(runID)", token: t)
            XCTAssertEqual(one.code, 200)
            XCTAssertEqual(one.data["status"] as? String, "completed")
            let filtered = try await api.get("/api/v1/automations/\(id)/runs?status=skipped", token: t).items.count
            XCTAssertEqual(filtered, 1)
            let badStatus = try await api.get("/api/v1/automations/\(id)/runs?status=weird", token: t).code
            XCTAssertEqual(badStatus, 400)
        }
    }

    func testRoundRobinAssignsOwnersInTurn() async throws {
        try await withApp(workersOn) { api, _ in
            let owner = try await api.signup()
            let t = owner.accessToken
            let m1 = try await api.addMember(t, email: "one@example.com", role: "member")
            let m2 = try await api.addMember(t, email: "two@example.com", role: "member")
            func userID(_ s: Session) async throws -> String { try await api.get("/api/v1/users/me", token: s.accessToken).data["id"] as? String ?? "" }
            let u1 = try await userID(m1), u2 = try await userID(m2)
            let id = try await automation(api, t, ["name": "Spread leads", "is_active": true, "trigger": ["event": "contact.created"],
                                                   "actions": [["type": "assign_owner", "config": ["strategy": "round_robin", "user_ids": [u1, u2]]]]])
            var ids: [String] = []
            for i in 0..<3 {
                ids.append(try await api.post("/api/v1/contacts", token: t, json: ["first_name": "C\(i)"]).data["id"] as? String ?? "")
            }
            try await eventually("three runs") { try await runs(api, t, id).filter { $0["status"] as? String == "completed" }.count == 3 }
            var owners: [String] = []
            for c in ids { owners.append(try await api.get("/api/v1/contacts/\(c)", token: t).data["owner_id"] as? String ?? "") }
            XCTAssertEqual(owners, [u1, u2, u1])
        }
    }

    func testAnAutomationThatChangesItsOwnTriggerStopsAtDepthFive() async throws {
        try await withApp(workersOn) { api, _ in
            let t = try await api.signup().accessToken
            let stages = try await PipelineStages.load(api, t)
            let id = try await automation(api, t, ["name": "Runaway", "is_active": true, "trigger": ["event": "deal.updated"],
                                                   "actions": [["type": "update_field", "config": ["field": "name", "value": "{{record.name}}+"]]]])
            let did = try await api.post("/api/v1/deals", token: t, json: ["name": "Loop", "stage_id": stages.firstOpen]).data["id"] as? String ?? ""
            _ = try await api.patch("/api/v1/deals/\(did)", token: t, json: ["name": "Loop!"])
            try await eventually("the loop guard to stop the chain") { try await runs(api, t, id).contains { $0["status"] as? String == "failed" } }
            try await Task.sleep(for: .milliseconds(500))
            let all = try await runs(api, t, id)
            XCTAssertEqual(all.count, 7, "depths 0 to 5 run, depth 6 is refused")
            XCTAssertEqual(all.filter { $0["status"] as? String == "completed" }.count, 6)
            let failed = all.first { $0["status"] as? String == "failed" } ?? [:]
            XCTAssertEqual(failed["causation_depth"] as? Int, 6)
            XCTAssertTrue((failed["error"] as? String ?? "").contains("loop guard"))
            let name = try await api.get("/api/v1/deals/\(did)", token: t).data["name"] as? String
            XCTAssertEqual(name, "Loop!++++++")
        }
    }

    func testManualRunTriggerAndDryRun() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let stages = try await PipelineStages.load(api, t)
            let did = try await api.post("/api/v1/deals", token: t, json: ["name": "Hand", "stage_id": stages.firstOpen, "value": 500]).data["id"] as? String ?? ""
            let cid = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"]).data["id"] as? String ?? ""
            let mover = try await automation(api, t, ["name": "Advance", "trigger": ["event": "deal.updated",
                                                                                     "conditions": [["field": "deal.value", "op": "gte", "value": 100]]],
                                                      "actions": [["type": "move_stage", "config": ["stage_id": stages.secondOpen]],
                                                                  ["type": "create_task", "config": ["title": "Check {{record.name}}"]]]])
            let dry = try await api.post("/api/v1/automations/\(mover)/test", token: t, json: ["object_id": did])
            XCTAssertEqual(dry.code, 200, dry.text)
            XCTAssertEqual(dry.data["matched"] as? Bool, true)
            XCTAssertEqual(dry.data["dry_run"] as? Bool, true)
            let previewed = dry.data["actions"] as? [[String: Any]] ?? []
            XCTAssertEqual(previewed.map { $0["status"] as? String ?? "" }, ["would_run", "would_run"])
            XCTAssertEqual((previewed.last?["config"] as? [String: Any])?["title"] as? String, "Check Hand")
            let unchanged = try await api.get("/api/v1/deals/\(did)", token: t).data
            XCTAssertEqual(unchanged["stage_id"] as? String, stages.firstOpen, "a dry run changes nothing")
            let noRuns = try await runs(api, t, mover).count
            XCTAssertEqual(noRuns, 0, "a dry run records no run")
            let noTasks = try await api.get("/api/v1/tasks", token: t).items.count
            XCTAssertEqual(noTasks, 0)

            let triggerInactive = try await api.post("/api/v1/automations/trigger", token: t, json: ["event": "deal.updated", "object_id": did])
            XCTAssertEqual(triggerInactive.code, 200, triggerInactive.text)
            XCTAssertEqual(triggerInactive.items.count, 0, "trigger runs active automations only")

            let run = try await api.post("/api/v1/automations/\(mover)/run", token: t, json: ["object_id": did])
            XCTAssertEqual(run.code, 200, run.text)
            XCTAssertEqual(run.data["status"] as? String, "completed", run.text)
            XCTAssertEqual(run.data["source"] as? String, "manual")
            let movedDeal = try await api.get("/api/v1/deals/\(did)", token: t).data
            XCTAssertEqual(movedDeal["stage_id"] as? String, stages.secondOpen)

            _ = try await api.patch("/api/v1/automations/\(mover)", token: t, json: ["is_active": true])
            let triggered = try await api.post("/api/v1/automations/trigger", token: t, json: ["event": "deal.updated", "object_id": did])
            XCTAssertEqual(triggered.code, 200)
            XCTAssertEqual(triggered.items.count, 1)
            XCTAssertEqual(triggered.items.first?["automation_id"] as? String, mover)

            for (body, field) in [([:], "object_id"), (["object_id": cid], "object_id"), (["object_id": "deal_01JD5X8Q2M7V3R9K4T6W8Y0Z1A"], "object_id"),
                                  (["object_id": did, "extra": 1], "extra")] as [([String: Any], String)] {
                let r = try await api.post("/api/v1/automations/\(mover)/run", token: t, json: body)
                XCTAssertEqual(r.code, 422, "\(body): \(r.text)")
                XCTAssertEqual(r.errorDetails.first?["field"] as? String, field)
            }
            let badEvent = try await api.post("/api/v1/automations/trigger", token: t, json: ["event": "deal.exploded", "object_id": did])
            XCTAssertEqual(badEvent.code, 422)

            // A failing action marks the run failed and skips the rest.
            let broken = try await automation(api, t, ["name": "Bad mail", "trigger": ["event": "contact.created"],
                                                       "actions": [["type": "send_email", "config": ["to": "{{record.email}}", "subject": "Hi", "body": "x"]],
                                                                   ["type": "add_tags", "config": ["tags": ["mailed"]]]]])
            let failed = try await api.post("/api/v1/automations/\(broken)/run", token: t, json: ["object_id": cid])
            XCTAssertEqual(failed.data["status"] as? String, "failed", failed.text)
            let acts = failed.data["actions"] as? [[String: Any]] ?? []
            XCTAssertEqual(acts.map { $0["status"] as? String ?? "" }, ["failed", "skipped"])
            let tags = try await api.get("/api/v1/contacts/\(cid)", token: t).data["tags"] as? [String]
            XCTAssertEqual(tags, [])
        }
    }

    func testSendWebhookActionPostsTheEvent() async throws {
        try await withReceiver { url, log in
            try await withApp(workersOn) { api, _ in
                let t = try await api.signup().accessToken
                let id = try await automation(api, t, ["name": "Notify", "is_active": true, "trigger": ["event": "contact.created"],
                                                       "actions": [["type": "send_webhook", "config": ["url": url]]]])
                let cid = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"]).data["id"] as? String ?? ""
                try await eventually("the automation's POST") { await log.requests.count == 1 }
                let r = await log.requests[0]
                XCTAssertEqual(r.eventType, "contact.created")
                XCTAssertEqual(r.headers["keel-automation-id"], id)
                XCTAssertEqual(((r.json["data"] as? [String: Any])?["object"] as? [String: Any])?["id"] as? String, cid)
                try await eventually("the run to complete") { try await runs(api, t, id).first?["status"] as? String == "completed" }
            }
        }
    }
}
