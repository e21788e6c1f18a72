import Foundation
import KeelCore
import XCTest

// MARK: - Shared helpers for the CRM test files
// (PipelinesTests, DealsTests, LineItemsAndProductsTests, LeadsTests, TasksTests, ActivitiesTests, CRMIsolationTests)

/// A pipeline as the API shows it: id and its stages in order.
struct PipeInfo: Sendable {
    let id: String
    let stageIDs: [String]
    let stageNames: [String]
    func stage(_ name: String) -> String { stageIDs[stageNames.firstIndex(of: name) ?? 0] }
}

enum CRMFixtures {
    typealias R = RecordFixtures

    static func pipeInfo(_ json: [String: Any]) -> PipeInfo {
        let stages = json["stages"] as? [[String: Any]] ?? []
        return PipeInfo(id: json["id"] as? String ?? "", stageIDs: stages.compactMap { $0["id"] as? String },
                        stageNames: stages.compactMap { $0["name"] as? String })
    }

    /// The workspace's default pipeline (Lead In, Qualified, Proposal, Negotiation, Won, Lost).
    static func defaultPipeline(_ api: API, _ token: String, file: StaticString = #filePath, line: UInt = #line) async throws -> PipeInfo {
        let r = try await api.get("/api/v1/pipelines", token: token)
        XCTAssertEqual(r.code, 200, r.text, file: file, line: line)
        let pipe = r.items.first { $0["is_default"] as? Bool == true } ?? [:]
        return pipeInfo(pipe)
    }

    static func pipeline(_ api: API, _ token: String, _ id: String, file: StaticString = #filePath, line: UInt = #line) async throws -> PipeInfo {
        let r = try await api.get("/api/v1/pipelines/\(id)", token: token)
        XCTAssertEqual(r.code, 200, r.text, file: file, line: line)
        return pipeInfo(r.data)
    }

    static func createPipeline(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> PipeInfo {
        let r = try await api.post("/api/v1/pipelines", token: token, json: body)
        XCTAssertEqual(r.code, 201, r.text, file: file, line: line)
        return pipeInfo(r.data)
    }

    /// Creates a deal (asserting 201) and returns its JSON.
    @discardableResult
    static func deal(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Any] {
        try await R.create(api, token, "deals", body, file: file, line: line)
    }

    static func dealID(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        try await deal(api, token, body, file: file, line: line)["id"] as? String ?? ""
    }

    static func move(_ api: API, _ token: String, _ dealID: String, to stage: String, lostReason: String? = nil) async throws -> TestResponse {
        var body: [String: Any] = ["stage_id": stage]
        if let lostReason { body["lost_reason"] = lostReason }
        return try await api.post("/api/v1/deals/\(dealID)/move", token: token, json: body)
    }

    static func stages(_ api: API, _ token: String, _ pipelineID: String, file: StaticString = #filePath, line: UInt = #line) async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/pipelines/\(pipelineID)/stages", token: token)
        XCTAssertEqual(r.code, 200, r.text, file: file, line: line)
        return r.items
    }

    static func stageHistory(_ api: API, _ token: String, _ dealID: String, file: StaticString = #filePath, line: UInt = #line) async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/deals/\(dealID)/stage-history?limit=200", token: token)
        XCTAssertEqual(r.code, 200, r.text, file: file, line: line)
        return r.items
    }

    static func probabilities(_ stages: [[String: Any]]) -> [Double] { stages.map { R.num($0["probability"]) ?? -1 } }

    static func setSettings(_ api: API, _ token: String, _ settings: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws {
        let r = try await api.patch("/api/v1/workspace", token: token, json: ["settings": settings])
        XCTAssertEqual(r.code, 200, r.text, file: file, line: line)
    }

    static func activity(_ api: API, _ token: String, type: String = "call", related: [(String, String)], extra: [String: Any] = [:],
                         file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Any] {
        var body: [String: Any] = ["type": type, "subject": "Logged", "related_to": related.map { ["type": $0.0, "id": $0.1] }]
        for (k, v) in extra { body[k] = v }
        return try await R.create(api, token, "activities", body, file: file, line: line)
    }

    static func task(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        try await R.create(api, token, "tasks", body, file: file, line: line)["id"] as? String ?? ""
    }

    static func lead(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        try await R.create(api, token, "leads", body, file: file, line: line)["id"] as? String ?? ""
    }

    static func approx(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) < 0.00005 } ?? false }

    /// Asserts a status code (usable with `try await` in the argument, unlike XCTAssert's autoclosures).
    static func expect(_ r: TestResponse, _ code: Int, _ label: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.code, code, "\(label) \(r.text)", file: file, line: line)
    }
}

// MARK: - Pipelines and stages

final class PipelinesTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures
    typealias C = CRMFixtures

    func testSignupProvisionsTheDefaultPipeline() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let r = try await api.get("/api/v1/pipelines", token: s.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.items.count, 1, r.text)
            let pipe = r.items.first ?? [:]
            XCTAssertTrue((pipe["id"] as? String)?.hasPrefix("pipe_") == true)
            XCTAssertEqual(pipe["is_default"] as? Bool, true)
            XCTAssertEqual(pipe["currency"] as? String, "USD")
            XCTAssertEqual(R.int(pipe["version"]), 1)
            let stages = pipe["stages"] as? [[String: Any]] ?? []
            XCTAssertEqual(stages.map { $0["name"] as? String ?? "" }, ["Lead In", "Qualified", "Proposal", "Negotiation", "Won", "Lost"])
            XCTAssertEqual(stages.map { $0["type"] as? String ?? "" }, ["open", "open", "open", "open", "won", "lost"])
            XCTAssertEqual(C.probabilities(stages), [0.2, 0.4, 0.6, 0.8, 1, 0])
            XCTAssertEqual(stages.map { R.int($0["position"]) ?? -1 }, [0, 1, 2, 3, 4, 5])
            let forecasts = stages.map { $0["forecast_category"] as? String ?? "" }
            XCTAssertEqual(forecasts, ["pipeline", "pipeline", "best_case", "commit", "closed", "omitted"])
            for st in stages {
                XCTAssertTrue((st["id"] as? String)?.hasPrefix("stg_") == true)
                XCTAssertEqual(st["pipeline_id"] as? String, pipe["id"] as? String)
                let color = st["color"] as? String ?? ""
                XCTAssertNotNil(color.range(of: "^#[0-9a-f]{6}$", options: .regularExpression), color)
                XCTAssertEqual((st["rules"] as? [String: Any])?["disallow_skip"] as? Bool, false)
            }
            let one = try await api.get("/api/v1/pipelines/\(pipe["id"] as? String ?? "")", token: s.accessToken)
            XCTAssertEqual(one.code, 200, one.text)
            XCTAssertEqual(one.header("ETag"), "\"1\"")
            XCTAssertEqual((one.data["stages"] as? [[String: Any]])?.first?["deal_count"] as? Int, 0)
        }
    }

    func testCreateAndExactlyOneDefault() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let r = try await api.post("/api/v1/pipelines", token: t, json: ["name": "Partners"])
            XCTAssertEqual(r.code, 201, r.text)
            let pid = r.data["id"] as? String ?? ""
            XCTAssertEqual(r.header("Location"), "/api/v1/pipelines/\(pid)")
            XCTAssertEqual(r.data["is_default"] as? Bool, false)
            XCTAssertEqual((r.data["stages"] as? [[String: Any]])?.count, 6, "a new pipeline without stages gets the default ones")

            // Making another the default flips the old one.
            let flip = try await api.patch("/api/v1/pipelines/\(pid)", token: t, json: ["is_default": true])
            XCTAssertEqual(flip.code, 200, flip.text)
            XCTAssertEqual(flip.data["is_default"] as? Bool, true)
            var all = try await api.get("/api/v1/pipelines", token: t)
            XCTAssertEqual(all.items.filter { $0["is_default"] as? Bool == true }.map { $0["id"] as? String ?? "" }, [pid])

            // Creating a new default flips again.
            let third = try await api.post("/api/v1/pipelines", token: t, json: ["name": "Renewals", "is_default": true])
            XCTAssertEqual(third.code, 201, third.text)
            all = try await api.get("/api/v1/pipelines", token: t)
            XCTAssertEqual(all.items.filter { $0["is_default"] as? Bool == true }.map { $0["id"] as? String ?? "" }, [third.data["id"] as? String ?? ""])
            XCTAssertEqual(all.items.count, 3)

            // Un-defaulting the default directly would leave none.
            let unset = try await api.patch("/api/v1/pipelines/\(third.data["id"] as? String ?? "")", token: t, json: ["is_default": false])
            R.assertError(unset, 422, "validation_failed", field: "is_default")
            // Rename with a stale version.
            let stale = try await api.patch("/api/v1/pipelines/\(sales.id)", token: t, json: ["name": "Old"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409, stale.text)
            XCTAssertEqual(stale.errorCode, "version_conflict")
            let rename = try await api.patch("/api/v1/pipelines/\(sales.id)", token: t, json: ["name": "Direct sales"])
            XCTAssertEqual(rename.code, 200, rename.text)
            XCTAssertEqual(rename.data["name"] as? String, "Direct sales")
            // Invalid bodies.
            R.assertError(try await api.post("/api/v1/pipelines", token: t, json: ["name": "X", "currency": "EURO"]), 422, "validation_failed", field: "currency")
            R.assertError(try await api.post("/api/v1/pipelines", token: t, json: ["name": "   "]), 422, "validation_failed", field: "name")
            R.assertError(try await api.post("/api/v1/pipelines", token: t, json: ["name": "X", "colour": "red"]), 422, "validation_failed")
            R.assertError(try await api.patch("/api/v1/pipelines/\(sales.id)", token: t, json: ["stages": []]), 422, "validation_failed")
        }
    }

    func testCreateWithCustomStagesComputesDefaults() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let r = try await api.post("/api/v1/pipelines", token: t, json: [
                "name": "Euro", "currency": "EUR",
                "stages": [["name": "Intro"], ["name": "Pitch"], ["name": "Signed", "type": "won"], ["name": "Dropped", "type": "lost"]],
            ])
            XCTAssertEqual(r.code, 201, r.text)
            XCTAssertEqual(r.data["currency"] as? String, "EUR")
            let stages = r.data["stages"] as? [[String: Any]] ?? []
            XCTAssertEqual(stages.map { $0["name"] as? String ?? "" }, ["Intro", "Pitch", "Signed", "Dropped"])
            let probs = C.probabilities(stages)
            XCTAssertTrue(C.approx(probs[0], 1.0 / 3) || probs[0] == 0.3333, "\(probs)")
            XCTAssertTrue(C.approx(probs[1], 0.6667) , "\(probs)")
            XCTAssertEqual(Array(probs.suffix(2)), [1, 0])
            // Every pipeline keeps an open, a won and a lost stage.
            let noWon = try await api.post("/api/v1/pipelines", token: t, json: ["name": "Bad", "stages": [["name": "A"], ["name": "L", "type": "lost"]]])
            R.assertError(noWon, 422, "validation_failed", field: "stages")
            let badType = try await api.post("/api/v1/pipelines", token: t, json: ["name": "Bad", "stages": [["name": "A", "type": "maybe"]]])
            XCTAssertEqual(badType.code, 422, badType.text)
            let empty = try await api.post("/api/v1/pipelines", token: t, json: ["name": "Bad", "stages": []])
            XCTAssertEqual(empty.code, 422, empty.text)
        }
    }

    func testDeletingPipelines() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            R.assertError(try await api.delete("/api/v1/pipelines/\(sales.id)", token: t), 409, "conflict", "delete the default")

            let other = try await C.createPipeline(api, t, ["name": "Channel"])
            let openDeal = try await C.dealID(api, t, ["name": "Open", "stage_id": other.stage("Proposal"), "value": 100])
            let wonDeal = try await C.dealID(api, t, ["name": "Won", "stage_id": other.stage("Won"), "value": 200])
            let lostDeal = try await C.dealID(api, t, ["name": "Lost", "stage_id": other.stage("Lost")])

            let blocked = try await api.delete("/api/v1/pipelines/\(other.id)", token: t)
            R.assertError(blocked, 409, "conflict", "open deals without move_deals_to")
            C.expect(try await api.get("/api/v1/pipelines/\(other.id)", token: t), 200)
            let badTarget = try await api.delete("/api/v1/pipelines/\(other.id)?move_deals_to=\(R.fakeID("pipe"))", token: t)
            XCTAssertEqual(badTarget.code, 400, badTarget.text)
            let selfTarget = try await api.delete("/api/v1/pipelines/\(other.id)?move_deals_to=\(other.id)", token: t)
            XCTAssertEqual(selfTarget.code, 400, selfTarget.text)

            let ok = try await api.delete("/api/v1/pipelines/\(other.id)?move_deals_to=\(sales.id)", token: t)
            XCTAssertEqual(ok.code, 204, ok.text)
            C.expect(try await api.get("/api/v1/pipelines/\(other.id)", token: t), 404)
            let list = try await api.get("/api/v1/pipelines", token: t)
            XCTAssertEqual(R.ids(list.items), [sales.id])

            let o = try await R.get(api, t, "deals", openDeal)
            XCTAssertEqual(o["pipeline_id"] as? String, sales.id)
            XCTAssertEqual(o["stage_id"] as? String, sales.stage("Lead In"), "open deals go to the first open stage")
            XCTAssertEqual(o["status"] as? String, "open")
            XCTAssertEqual(R.num(o["probability"]), 0.2)
            let w = try await R.get(api, t, "deals", wonDeal)
            XCTAssertEqual(w["stage_id"] as? String, sales.stage("Won"))
            XCTAssertEqual(w["status"] as? String, "won")
            XCTAssertFalse(R.isNull(w["closed_at"]))
            let l = try await R.get(api, t, "deals", lostDeal)
            XCTAssertEqual(l["stage_id"] as? String, sales.stage("Lost"))
            // Stage history grows by one move per relocated deal.
            let hist = try await C.stageHistory(api, t, openDeal)
            XCTAssertEqual(hist.count, 2, "\(hist)")
            XCTAssertEqual(hist.first?["from_stage_id"] as? String, other.stage("Proposal"))
            XCTAssertEqual(hist.first?["to_stage_id"] as? String, sales.stage("Lead In"))
            let audit = try await R.audit(api, t, "action=pipeline.deleted&object_id=\(other.id)")
            XCTAssertEqual(audit.count, 1, "\(audit)")
        }
    }

    func testDeletingAPipelineWithoutOpenDealsNeedsNoTarget() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let other = try await C.createPipeline(api, t, ["name": "Empty"])
            C.expect(try await api.delete("/api/v1/pipelines/\(other.id)", token: t), 204)
            C.expect(try await api.delete("/api/v1/pipelines/\(other.id)", token: t), 404)
            C.expect(try await api.get("/api/v1/pipelines/pipe_nope", token: t), 404)
            C.expect(try await api.get("/api/v1/pipelines/\(R.fakeID("stg"))", token: t), 404)
        }
    }

    func testAddStageRecomputesDefaultProbabilities() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let r = try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "Demo", "color": "#0EA5E9", "rot_days": 14])
            XCTAssertEqual(r.code, 201, r.text)
            XCTAssertTrue((r.data["id"] as? String)?.hasPrefix("stg_") == true)
            XCTAssertEqual(r.data["type"] as? String, "open")
            XCTAssertEqual(R.int(r.data["position"]), 4, "a new open stage goes after the last open stage")
            XCTAssertEqual(r.data["color"] as? String, "#0ea5e9")
            XCTAssertEqual(R.int(r.data["rot_days"]), 14)
            let stages = try await C.stages(api, t, sales.id)
            XCTAssertEqual(stages.map { $0["name"] as? String ?? "" }, ["Lead In", "Qualified", "Proposal", "Negotiation", "Demo", "Won", "Lost"])
            XCTAssertEqual(stages.map { R.int($0["position"]) ?? -1 }, [0, 1, 2, 3, 4, 5, 6])
            // Five open stages: i/6.
            let probs = C.probabilities(stages)
            guard probs.count == 7 else { return }
            for (i, expected) in [1.0 / 6, 2.0 / 6, 3.0 / 6, 4.0 / 6, 5.0 / 6].enumerated() {
                XCTAssertEqual(probs[i], expected, accuracy: 0.0001, "\(probs)")
            }
            XCTAssertEqual(Array(probs.suffix(2)), [1, 0])

            // An explicit probability is kept when others are renumbered; an explicit position is honoured.
            let fixed = try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "Intro", "probability": 0.05, "position": 0])
            XCTAssertEqual(fixed.code, 201, fixed.text)
            XCTAssertEqual(R.num(fixed.data["probability"]), 0.05)
            let after = try await C.stages(api, t, sales.id)
            guard after.count > 1 else { return XCTFail("stages: \(after)") }
            XCTAssertEqual(after.first?["name"] as? String, "Intro")
            XCTAssertEqual(R.num(after.first?["probability"]), 0.05)
            XCTAssertEqual(R.num(after[1]["probability"]) ?? 0, 2.0 / 7, accuracy: 0.0001, "Lead In is now the 2nd of 6 open stages")

            // Validation.
            R.assertError(try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["color": "#fff"]), 422, "validation_failed", field: "name")
            R.assertError(try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "X", "position": 99]), 422,
                          "validation_failed", field: "position")
            R.assertError(try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "X", "probability": 2]), 422,
                          "validation_failed", field: "probability")
            R.assertError(try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "X", "type": "pending"]), 422,
                          "validation_failed", field: "type")
            R.assertError(try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t,
                                             json: ["name": "X", "rules": ["required_fields": ["shoe_size"]]]), 422, "validation_failed")
            C.expect(try await api.post("/api/v1/pipelines/\(R.fakeID("pipe"))/stages", token: t, json: ["name": "X"]), 404)
            // A new won stage goes at the end.
            let won2 = try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "Won (partner)", "type": "won"])
            XCTAssertEqual(won2.code, 201, won2.text)
            XCTAssertEqual(R.num(won2.data["probability"]), 1)
            XCTAssertEqual(won2.data["forecast_category"] as? String, "closed")
        }
    }

    func testPatchStageValidation() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let path = "/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Qualified"))"
            for (body, field) in [(["color": "red"], "color"), (["color": "#12345"], "color"), (["color": "#GGGGGG"], "color"), (["color": 123], "color"),
                                  (["probability": 1.5], "probability"), (["probability": -0.1], "probability"), (["probability": "0.5"], "probability"),
                                  (["probability": 0.12345], "probability"),
                                  (["rot_days": 0], "rot_days"), (["rot_days": 1.5], "rot_days"), (["rot_days": 99999], "rot_days"),
                                  (["forecast_category": "maybe"], "forecast_category"), (["position": 2], "position")] as [([String: Any], String)] {
                R.assertError(try await api.patch(path, token: t, json: body), 422, "validation_failed", field: field, "\(body)")
            }
            let ok = try await api.patch(path, token: t, json: ["color": "#ABCDEF", "probability": 0.45, "rot_days": 10, "name": "SQL",
                                                                "forecast_category": "best_case"])
            XCTAssertEqual(ok.code, 200, ok.text)
            XCTAssertEqual(ok.data["color"] as? String, "#abcdef")
            XCTAssertEqual(R.num(ok.data["probability"]), 0.45)
            XCTAssertEqual(R.int(ok.data["rot_days"]), 10)
            XCTAssertEqual(ok.data["name"] as? String, "SQL")
            XCTAssertEqual(ok.data["forecast_category"] as? String, "best_case")
            XCTAssertEqual(R.int(ok.data["version"]), 2)
            XCTAssertEqual(ok.header("ETag"), "\"2\"")
            let stale = try await api.patch(path, token: t, json: ["name": "Y"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409, stale.text)
            // null clears: probability back to the default, color and rot_days removed.
            let cleared = try await api.patch(path, token: t, json: ["probability": NSNull(), "color": NSNull(), "rot_days": NSNull()])
            XCTAssertEqual(cleared.code, 200, cleared.text)
            XCTAssertEqual(R.num(cleared.data["probability"]), 0.4)
            XCTAssertTrue(R.isNull(cleared.data["color"]))
            XCTAssertTrue(R.isNull(cleared.data["rot_days"]))
            // Deals take the stage's probability.
            let d = try await C.deal(api, t, ["name": "D", "stage_id": sales.stage("Qualified")])
            XCTAssertEqual(R.num(d["probability"]), 0.4)
            // The type of a stage with deals cannot change; the last won stage cannot become open.
            R.assertError(try await api.patch(path, token: t, json: ["type": "won"]), 409, "conflict", "type of a stage with deals")
            R.assertError(try await api.patch("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Won"))", token: t, json: ["type": "open"]), 409,
                          "conflict", "last won stage becomes open")
            // allowed_next_stage_ids must name stages of the same pipeline.
            let other = try await C.createPipeline(api, t, ["name": "Other"])
            let foreign = try await api.patch(path, token: t, json: ["rules": ["allowed_next_stage_ids": [other.stage("Won")]]])
            R.assertError(foreign, 422, "validation_failed", field: "rules.allowed_next_stage_ids")
            // A stage addressed through the wrong pipeline is not found.
            let wrongPipe = try await api.patch("/api/v1/pipelines/\(other.id)/stages/\(sales.stage("Qualified"))", token: t, json: ["name": "Z"])
            XCTAssertEqual(wrongPipe.code, 404, wrongPipe.text)
        }
    }

    func testReorderStages() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let other = try await C.createPipeline(api, t, ["name": "Other"])
            let ids = sales.stageIDs
            let path = "/api/v1/pipelines/\(sales.id)/stages"

            let missing = try await api.send(.put, path, token: t, json: ["stage_ids": Array(ids.dropLast())])
            R.assertError(missing, 422, "validation_failed", field: "stage_ids", detailCode: "missing")
            XCTAssertTrue(missing.text.contains(ids.last ?? "?"), missing.text)

            let dup = try await api.send(.put, path, token: t, json: ["stage_ids": ids + [ids[0]]])
            R.assertError(dup, 422, "validation_failed", field: "stage_ids[6]", detailCode: "duplicate")

            var withForeign = ids
            withForeign[1] = other.stageIDs[1]
            let foreign = try await api.send(.put, path, token: t, json: ["stage_ids": withForeign])
            R.assertError(foreign, 422, "validation_failed", field: "stage_ids[1]", detailCode: "not_found")

            let unknown = try await api.send(.put, path, token: t, json: ["stage_ids": ids + [R.fakeID("stg")]])
            R.assertError(unknown, 422, "validation_failed", field: "stage_ids[6]", detailCode: "not_found")
            C.expect(try await api.send(.put, path, token: t, json: [String: Any]()), 422)

            // Nothing changed.
            let unchanged = try await C.stages(api, t, sales.id)
            XCTAssertEqual(R.ids(unchanged), ids)

            // Negotiation first, Lead In last of the open ones, Lost before Won.
            let order = [ids[3], ids[1], ids[2], ids[0], ids[5], ids[4]]
            let ok = try await api.send(.put, path, token: t, json: ["stage_ids": order])
            XCTAssertEqual(ok.code, 200, ok.text)
            XCTAssertEqual(R.ids(ok.items), order)
            XCTAssertEqual(ok.items.map { R.int($0["position"]) ?? -1 }, [0, 1, 2, 3, 4, 5])
            XCTAssertEqual(C.probabilities(ok.items), [0.2, 0.4, 0.6, 0.8, 0, 1], "default probabilities follow the new order")
            let reread = try await C.pipeline(api, t, sales.id)
            XCTAssertEqual(reread.stageIDs, order)
            let listed = try await C.stages(api, t, sales.id)
            XCTAssertEqual(R.ids(listed), order)
            C.expect(try await api.send(.put, "/api/v1/pipelines/\(R.fakeID("pipe"))/stages", token: t, json: ["stage_ids": order]), 404)
        }
    }

    func testDeleteStage() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let d1 = try await C.dealID(api, t, ["name": "A", "stage_id": sales.stage("Proposal"), "value": 10])
            let d2 = try await C.dealID(api, t, ["name": "B", "stage_id": sales.stage("Proposal"), "value": 20])
            let path = "/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Proposal"))"
            R.assertError(try await api.delete(path, token: t), 409, "conflict", "stage with deals")
            C.expect(try await api.delete(path + "?move_deals_to=\(sales.stage("Proposal"))", token: t), 400)
            C.expect(try await api.delete(path + "?move_deals_to=\(R.fakeID("stg"))", token: t), 400)

            let ok = try await api.delete(path + "?move_deals_to=\(sales.stage("Negotiation"))", token: t)
            XCTAssertEqual(ok.code, 204, ok.text)
            let stages = try await C.stages(api, t, sales.id)
            XCTAssertEqual(stages.map { $0["name"] as? String ?? "" }, ["Lead In", "Qualified", "Negotiation", "Won", "Lost"])
            guard stages.count == 5 else { return }
            XCTAssertEqual(stages.map { R.int($0["position"]) ?? -1 }, [0, 1, 2, 3, 4])
            XCTAssertEqual(C.probabilities(stages), [0.25, 0.5, 0.75, 1, 0])
            XCTAssertEqual(R.int(stages[2]["deal_count"]), 2)
            XCTAssertEqual(R.num(stages[2]["deal_value"]), 30)
            for id in [d1, d2] {
                let d = try await R.get(api, t, "deals", id)
                XCTAssertEqual(d["stage_id"] as? String, sales.stage("Negotiation"))
                // api.md §3: a deal's probability is its stage's unless overridden; Negotiation is now 3/4.
                XCTAssertEqual(R.num(d["probability"]), 0.75, "relocated deal keeps the stage's pre-renumber probability")
                let h = try await C.stageHistory(api, t, id)
                XCTAssertEqual(h.count, 2, "\(h)")
            }
            C.expect(try await api.delete(path, token: t), 404, "already deleted")
            // An empty stage goes without a target.
            C.expect(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Qualified"))", token: t), 204)
            // The last won and the last lost stage stay.
            R.assertError(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Won"))", token: t), 409, "conflict", "last won")
            R.assertError(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Lost"))", token: t), 409, "conflict", "last lost")
            // With a second won stage the first may go.
            let won2 = try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: t, json: ["name": "Won 2", "type": "won"])
            XCTAssertEqual(won2.code, 201, won2.text)
            C.expect(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Won"))", token: t), 204)
            // And the last open stage stays too (only Lead In and Negotiation remain; delete one then the other).
            C.expect(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Lead In"))", token: t), 204)
            R.assertError(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Negotiation"))?move_deals_to=\(sales.stage("Lost"))",
                                               token: t), 409, "conflict", "last open")
            // A deal cannot be created in a deleted stage.
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Proposal")]), 422,
                          "validation_failed", field: "stage_id")
        }
    }

    func testStageListingCountsOnlyDealsTheCallerCanSee() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let sales = try await C.defaultPipeline(api, team.owner.accessToken)
            let lead = sales.stage("Lead In")
            try await C.deal(api, team.member.accessToken, ["name": "Mine", "stage_id": lead, "value": 100])
            try await C.deal(api, team.member.accessToken, ["name": "Mine private", "stage_id": lead, "value": 50, "visibility": "private"])
            try await C.deal(api, team.member2.accessToken, ["name": "Theirs private", "stage_id": lead, "value": 1000.25, "visibility": "private"])
            let gone = try await C.dealID(api, team.member2.accessToken, ["name": "Deleted", "stage_id": lead, "value": 7])
            try await R.delete(api, team.member2.accessToken, "deals", gone)
            try await C.deal(api, team.member2.accessToken, ["name": "Won", "stage_id": sales.stage("Won"), "value": 3])

            func leadIn(_ token: String) async throws -> (Int?, Double?) {
                let s = try await C.stages(api, token, sales.id)
                return (R.int(s.first?["deal_count"]), R.num(s.first?["deal_value"]))
            }
            let member = try await leadIn(team.member.accessToken)
            XCTAssertEqual(member.0, 2, "member sees own deals, not the other member's private one")
            XCTAssertEqual(member.1, 150)
            let member2 = try await leadIn(team.member2.accessToken)
            XCTAssertEqual(member2.0, 2)
            XCTAssertEqual(member2.1, 1100.25)
            let viewer = try await leadIn(team.viewer.accessToken)
            XCTAssertEqual(viewer.0, 1)
            XCTAssertEqual(viewer.1, 100)
            let admin = try await leadIn(team.admin.accessToken)
            XCTAssertEqual(admin.0, 3, "admins see private deals")
            XCTAssertEqual(admin.1, 1150.25)
            let won = try await C.stages(api, team.member.accessToken, sales.id)
            guard won.count == 6 else { return XCTFail("stages: \(won)") }
            XCTAssertEqual(R.int(won[4]["deal_count"]), 1)
            XCTAssertEqual(R.num(won[4]["deal_value"]), 3)
            // The pipeline read carries the same totals.
            let pipe = try await api.get("/api/v1/pipelines/\(sales.id)", token: team.member.accessToken)
            XCTAssertEqual(R.int((pipe.data["stages"] as? [[String: Any]])?.first?["deal_count"]), 2)
        }
    }

    /// The stage totals are kept by database triggers (migration 6); after every kind of deal write they must equal a recount of
    /// the deals themselves, for admins (every deal) and for members (shared deals and their own private ones).
    func testStageTotalsFollowEveryKindOfDealWrite() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let admin = team.owner.accessToken
            let sales = try await C.defaultPipeline(api, admin)
            let other = try await C.createPipeline(api, admin, ["name": "Channel"])

            func recount(_ token: String, _ pipe: PipeInfo) async throws -> [String: (Int, Double)] {
                let list = try await api.get("/api/v1/deals?pipeline_id=\(pipe.id)&limit=100", token: token)
                XCTAssertEqual(list.code, 200, list.text)
                XCTAssertEqual(list.json["has_more"] as? Bool, false)
                let deals = list.items
                var out: [String: (Int, Double)] = [:]
                for d in deals {
                    let stage = d["stage_id"] as? String ?? ""
                    let prior = out[stage] ?? (0, 0)
                    out[stage] = (prior.0 + 1, prior.1 + (R.num(d["value"]) ?? 0))
                }
                return out
            }
            func check(_ label: String, file: StaticString = #filePath, line: UInt = #line) async throws {
                for token in [admin, team.member.accessToken, team.member2.accessToken] {
                    for pipe in [sales, other] {
                        let expected = try await recount(token, pipe)
                        for stage in try await C.stages(api, token, pipe.id) {
                            let id = stage["id"] as? String ?? ""
                            let want = expected[id] ?? (0, 0)
                            XCTAssertEqual(R.int(stage["deal_count"]), want.0, "\(label): count of \(stage["name"] ?? id)", file: file, line: line)
                            XCTAssertTrue(C.approx(R.num(stage["deal_value"]), want.1),
                                          "\(label): value of \(stage["name"] ?? id) is \(stage["deal_value"] ?? "nil"), want \(want.1)", file: file, line: line)
                        }
                    }
                }
            }

            let a = try await C.dealID(api, admin, ["name": "A", "stage_id": sales.stage("Lead In"), "value": 100])
            let b = try await C.dealID(api, team.member.accessToken, ["name": "B", "stage_id": sales.stage("Lead In"), "value": 40.5,
                                                                      "visibility": "private"])
            let c = try await C.dealID(api, admin, ["name": "C", "stage_id": sales.stage("Qualified")])
            try await check("created")
            C.expect(try await api.patch("/api/v1/deals/\(a)", token: admin, json: ["value": 250]), 200, "value")
            C.expect(try await api.patch("/api/v1/deals/\(c)", token: admin, json: ["value": 9.99]), 200, "value from null")
            try await check("values changed")
            C.expect(try await C.move(api, admin, a, to: sales.stage("Proposal")), 200, "move")
            C.expect(try await C.move(api, team.member.accessToken, b, to: sales.stage("Lost"), lostReason: "price"), 200, "lost")
            try await check("moved")
            C.expect(try await api.patch("/api/v1/deals/\(b)", token: team.member.accessToken, json: ["visibility": "workspace"]), 200, "shared")
            C.expect(try await api.patch("/api/v1/deals/\(a)", token: admin, json: ["visibility": "private", "owner_id": team.member2ID]),
                     200, "private to member2")
            try await check("visibility and owner changed")
            C.expect(try await api.patch("/api/v1/deals/\(c)", token: admin, json: ["pipeline_id": other.id, "stage_id": other.stage("Proposal")]),
                     200, "other pipeline")
            try await check("changed pipeline")
            try await R.delete(api, admin, "deals", c)
            try await check("deleted")
            C.expect(try await api.post("/api/v1/deals/\(c)/restore", token: admin), 200, "restored")
            try await check("restored")
            try await C.deal(api, admin, ["name": "D", "stage_id": sales.stage("Negotiation"), "value": 5])
            C.expect(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Negotiation"))?move_deals_to=\(sales.stage("Proposal"))",
                                          token: admin), 204, "stage deleted")
            try await check("stage deleted, its deals moved")
            C.expect(try await api.delete("/api/v1/pipelines/\(other.id)?move_deals_to=\(sales.id)", token: admin), 204, "pipeline deleted")
            let sales2 = try await C.pipeline(api, admin, sales.id)
            let recounted = try await recount(admin, sales2)
            XCTAssertEqual(recounted.values.map(\.0).reduce(0, +), 4, "every deal now in the default pipeline: \(recounted)")
            for token in [admin, team.member.accessToken] {
                let expected = try await recount(token, sales2)
                for stage in try await C.stages(api, token, sales.id) {
                    XCTAssertEqual(R.int(stage["deal_count"]), expected[stage["id"] as? String ?? ""]?.0 ?? 0, "after the pipeline was deleted")
                }
            }
        }
    }

    func testBoardPagesEachStageAndTheCursorContinuesOnDeals() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let lead = sales.stage("Lead In")
            var created: [String] = []
            for i in 0..<5 { created.append(try await C.dealID(api, t, ["name": "Deal \(i)", "stage_id": lead, "value": 10 * (i + 1)])) }
            try await C.deal(api, t, ["name": "Q", "stage_id": sales.stage("Qualified"), "value": 1])
            try await C.deal(api, t, ["name": "Closed", "stage_id": sales.stage("Won"), "value": 99])

            let board = try await api.get("/api/v1/pipelines/\(sales.id)/board?per_stage=2", token: t)
            XCTAssertEqual(board.code, 200, board.text)
            XCTAssertEqual(board.data["id"] as? String, sales.id)
            let columns = board.data["stages"] as? [[String: Any]] ?? []
            XCTAssertEqual(R.ids(columns), sales.stageIDs)
            guard columns.count == 6 else { return }
            let first = columns.first ?? [:]
            XCTAssertEqual(R.int(first["deal_count"]), 5)
            XCTAssertEqual(R.num(first["deal_value"]), 150)
            let deals = first["deals"] as? [[String: Any]] ?? []
            XCTAssertEqual(deals.count, 2)
            XCTAssertEqual(first["has_more"] as? Bool, true)
            let cursor = first["next_cursor"] as? String
            XCTAssertNotNil(cursor)
            XCTAssertEqual((columns[1]["deals"] as? [[String: Any]])?.count, 1)
            XCTAssertTrue(R.isNull(columns[1]["next_cursor"]))
            XCTAssertEqual((columns[4]["deals"] as? [[String: Any]])?.count, 0, "the board shows open deals only")
            XCTAssertEqual(R.int(columns[4]["deal_count"]), 1)

            // The column's cursor continues with GET /deals?stage_id=...&status=open.
            var seen = R.ids(deals)
            var next = cursor
            var pages = 0
            while let c = next, pages < 10 {
                let page = try await api.get("/api/v1/deals?stage_id=\(lead)&status=open&limit=2&cursor=\(R.q(c))", token: t)
                XCTAssertEqual(page.code, 200, page.text)
                guard page.code == 200 else { break }
                seen += R.ids(page.items)
                next = F.nextCursor(page)
                pages += 1
            }
            XCTAssertEqual(seen.count, 5, "\(seen)")
            XCTAssertEqual(Set(seen), Set(created))
            XCTAssertEqual(seen, created.reversed(), "newest first, no repeats or gaps")

            for bad in ["0", "101", "x"] {
                R.assertError(try await api.get("/api/v1/pipelines/\(sales.id)/board?per_stage=\(bad)", token: t), 400, "bad_request", "per_stage=\(bad)")
            }
            C.expect(try await api.get("/api/v1/pipelines/\(R.fakeID("pipe"))/board", token: t), 404)
        }
    }

    func testRolesAndScopesOnPipelines() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let sales = try await C.defaultPipeline(api, team.owner.accessToken)
            let v = team.viewer.accessToken
            C.expect(try await api.get("/api/v1/pipelines", token: v), 200)
            C.expect(try await api.get("/api/v1/pipelines/\(sales.id)/board", token: v), 200)
            R.assertError(try await api.post("/api/v1/pipelines", token: v, json: ["name": "X"]), 403, "forbidden")
            R.assertError(try await api.patch("/api/v1/pipelines/\(sales.id)", token: v, json: ["name": "X"]), 403, "forbidden")
            R.assertError(try await api.post("/api/v1/pipelines/\(sales.id)/stages", token: v, json: ["name": "X"]), 403, "forbidden")
            R.assertError(try await api.send(.put, "/api/v1/pipelines/\(sales.id)/stages", token: v, json: ["stage_ids": sales.stageIDs]), 403, "forbidden")
            R.assertError(try await api.delete("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Qualified"))", token: v), 403, "forbidden")
            let key = try await api.createKey(team.owner.accessToken, scopes: ["pipelines:read"])
            C.expect(try await api.get("/api/v1/pipelines", token: key), 200)
            let denied = try await api.post("/api/v1/pipelines", token: key, json: ["name": "X"])
            R.assertError(denied, 403, "forbidden")
            R.assertError(try await api.get("/api/v1/pipelines/\(sales.id)/board", token: key), 403, "forbidden", "the board also needs deals:read")
            let dealsKey = try await api.createKey(team.owner.accessToken, scopes: ["deals:read"])
            R.assertError(try await api.get("/api/v1/pipelines", token: dealsKey), 403, "forbidden")
            C.expect(try await api.get("/api/v1/pipelines", token: nil), 401)
        }
    }
}
