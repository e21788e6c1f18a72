import Foundation
import KeelCore
import XCTest

final class CRMIsolationTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures
    typealias C = CRMFixtures

    func testMemberRemovalReassignsOpenRecords() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let m = team.member.accessToken
            let sales = try await C.defaultPipeline(api, m)
            let openDeal = try await C.dealID(api, m, ["name": "Open", "stage_id": sales.stage("Lead In")])
            let wonDeal = try await C.dealID(api, m, ["name": "Won", "stage_id": sales.stage("Won")])
            let lead = try await C.lead(api, m, ["name": "L"])
            let task = try await C.task(api, m, ["title": "T"])
            let doneTask = try await C.task(api, m, ["title": "Done", "status": "completed"])
            let contact = try await R.contact(api, m, ["first_name": "C", "email": "c@x.com"])
            let memberID = try await F.memberID(api, team.owner.accessToken, email: "member@example.com")
            let r = try await api.delete("/api/v1/members/\(memberID)?reassign_to=\(team.member2ID)", token: team.owner.accessToken)
            XCTAssertEqual(r.code, 204, r.text)
            let t = team.owner.accessToken
            let v1 = try await R.get(api, t, "deals", openDeal)["owner_id"] as? String
            XCTAssertEqual(v1, team.member2ID)
            let v2 = try await R.get(api, t, "deals", wonDeal)["owner_id"] as? String
            XCTAssertEqual(v2, team.memberID, "closed deals keep their owner")
            let v3 = try await R.get(api, t, "leads", lead)["owner_id"] as? String
            XCTAssertEqual(v3, team.member2ID)
            let v4 = try await R.get(api, t, "tasks", task)["assignee_id"] as? String
            XCTAssertEqual(v4, team.member2ID)
            let v5 = try await R.get(api, t, "tasks", doneTask)["assignee_id"] as? String
            XCTAssertEqual(v5, team.memberID)
            let v6 = try await R.get(api, t, "contacts", contact)["owner_id"] as? String
            XCTAssertEqual(v6, team.member2ID)
            let hist = try await R.history(api, t, "deals", openDeal)
            XCTAssertTrue(hist.contains { $0["field"] as? String == "owner_id" && $0["new"] as? String == team.member2ID }, "\(hist)")
        }
    }

    func testMergeMovesDealsTasksAndActivities() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let keep = try await R.contact(api, t, ["first_name": "Keep", "email": "keep@x.com"])
            let dup = try await R.contact(api, t, ["first_name": "Dup", "email": "dup@x.com"])
            let deal = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In"), "contacts": [["contact_id": dup, "role": "buyer"]]])
            let task = try await C.task(api, t, ["title": "T", "related_to": ["type": "contact", "id": dup]])
            let act = try await C.activity(api, t, related: [("contact", dup)])["id"] as? String ?? ""
            let merge = try await api.post("/api/v1/contacts/\(keep)/merge", token: t, json: ["source_ids": [dup]])
            XCTAssertEqual(merge.code, 200, merge.text)
            let d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(d["contact_ids"] as? [String], [keep])
            let v7 = try await R.listIDs(api, t, "/api/v1/deals?contact_id=\(keep)")
            XCTAssertEqual(v7, [deal])
            let tk = try await R.get(api, t, "tasks", task)
            XCTAssertEqual((tk["related_to"] as? [String: Any])?["id"] as? String, keep)
            let v8 = try await R.listIDs(api, t, "/api/v1/activities?related_to_id=\(keep)")
            XCTAssertEqual(v8, [act])

            let coKeep = try await R.company(api, t, ["name": "Keep Co"])
            let coDup = try await R.company(api, t, ["name": "Dup Co"])
            let deal2 = try await C.dealID(api, t, ["name": "D2", "stage_id": sales.stage("Lead In"), "company_id": coDup])
            let task2 = try await C.task(api, t, ["title": "T2", "related_to": ["type": "company", "id": coDup]])
            let act2 = try await C.activity(api, t, related: [("company", coDup)])["id"] as? String ?? ""
            C.expect(try await api.post("/api/v1/companies/\(coKeep)/merge", token: t, json: ["source_ids": [coDup]]), 200)
            let v9 = try await R.get(api, t, "deals", deal2)["company_id"] as? String
            XCTAssertEqual(v9, coKeep)
            let v10 = (try await R.get(api, t, "tasks", task2)["related_to"] as? [String: Any])?["id"] as? String
            XCTAssertEqual(v10, coKeep)
            let v11 = try await R.listIDs(api, t, "/api/v1/activities?related_to_id=\(coKeep)")
            XCTAssertEqual(v11, [act2])
            let v12 = try await R.listIDs(api, t, "/api/v1/companies/\(coKeep)/deals")
            XCTAssertEqual(v12, [deal2])
        }
    }

    func testCrossWorkspaceIds() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await api.signup(email: "a@example.com", workspace: "Alpha")
            let b = try await api.signup(email: "b@example.com", workspace: "Beta")
            let at = a.accessToken, bt = b.accessToken
            let aSales = try await C.defaultPipeline(api, at)
            let bSales = try await C.defaultPipeline(api, bt)
            let aDeal = try await C.dealID(api, at, ["name": "A deal", "stage_id": aSales.stage("Lead In")])
            let aContact = try await R.contact(api, at, ["first_name": "A", "email": "a@x.com"])
            let aCompany = try await R.company(api, at, ["name": "A Co"])
            let aProduct = try await R.create(api, at, "products", ["name": "P", "sku": "P1", "price": 1])["id"] as? String ?? ""
            let aLead = try await C.lead(api, at, ["name": "L"])
            let aTask = try await C.task(api, at, ["title": "T"])
            let aAct = try await C.activity(api, at, related: [("contact", aContact)])["id"] as? String ?? ""
            let aLine = try await api.post("/api/v1/deals/\(aDeal)/line-items", token: at, json: ["name": "X", "quantity": 1, "unit_price": 1])
            let aLineID = aLine.data["id"] as? String ?? ""
            let aUser = try await F.userID(api, at)

            // Paths → 404.
            for path in ["/api/v1/pipelines/\(aSales.id)", "/api/v1/pipelines/\(aSales.id)/stages", "/api/v1/pipelines/\(aSales.id)/board",
                         "/api/v1/deals/\(aDeal)", "/api/v1/deals/\(aDeal)/stage-history", "/api/v1/deals/\(aDeal)/score",
                         "/api/v1/deals/\(aDeal)/line-items", "/api/v1/deals/\(aDeal)/timeline", "/api/v1/products/\(aProduct)",
                         "/api/v1/products/sku/P1", "/api/v1/leads/\(aLead)", "/api/v1/tasks/\(aTask)", "/api/v1/activities/\(aAct)",
                         "/api/v1/contacts/\(aContact)/deals", "/api/v1/companies/\(aCompany)/deals"] {
                R.assertError(try await api.get(path, token: bt), 404, "not_found", "GET \(path)")
            }
            R.assertError(try await C.move(api, bt, aDeal, to: bSales.stage("Won")), 404, "not_found", "move")
            R.assertError(try await api.patch("/api/v1/deals/\(aDeal)/line-items/\(aLineID)", token: bt, json: ["quantity": 2]), 404, "not_found")
            R.assertError(try await api.post("/api/v1/leads/\(aLead)/convert", token: bt), 404, "not_found")
            R.assertError(try await api.patch("/api/v1/pipelines/\(aSales.id)/stages/\(aSales.stage("Won"))", token: bt, json: ["name": "x"]), 404, "not_found")
            R.assertError(try await api.patch("/api/v1/pipelines/\(bSales.id)/stages/\(aSales.stage("Won"))", token: bt, json: ["name": "x"]), 404, "not_found")
            R.assertError(try await api.delete("/api/v1/pipelines/\(aSales.id)", token: bt), 404, "not_found")
            R.assertError(try await api.patch("/api/v1/activities/\(aAct)", token: bt, json: ["subject": "x"]), 404, "not_found")

            // Bodies → 422 not_found.
            R.assertError(try await api.post("/api/v1/deals", token: bt, json: ["name": "x", "stage_id": aSales.stage("Lead In")]), 422,
                          "validation_failed", field: "stage_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/deals", token: bt, json: ["name": "x", "stage_id": bSales.stage("Lead In"), "company_id": aCompany]),
                          422, "validation_failed", field: "company_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/deals", token: bt, json: ["name": "x", "stage_id": bSales.stage("Lead In"),
                                                                                "contacts": [["contact_id": aContact]]]),
                          422, "validation_failed", field: "contacts[0].contact_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/deals", token: bt, json: ["name": "x", "stage_id": bSales.stage("Lead In"), "owner_id": aUser]),
                          422, "validation_failed", field: "owner_id", detailCode: "not_found")
            let bDeal = try await C.dealID(api, bt, ["name": "B", "stage_id": bSales.stage("Lead In")])
            R.assertError(try await api.post("/api/v1/deals/\(bDeal)/line-items", token: bt, json: ["product_id": aProduct, "quantity": 1]), 422,
                          "validation_failed", field: "product_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/tasks", token: bt, json: ["title": "x", "related_to": ["type": "deal", "id": aDeal]]), 422,
                          "validation_failed", field: "related_to.id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/tasks", token: bt, json: ["title": "x", "assignee_id": aUser]), 422, "validation_failed",
                          field: "assignee_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/activities", token: bt, json: ["type": "call", "related_to": [["type": "lead", "id": aLead]]]), 422,
                          "validation_failed", field: "related_to[0].id", detailCode: "not_found")
            let bLead = try await C.lead(api, bt, ["name": "BL"])
            R.assertError(try await api.post("/api/v1/leads/\(bLead)/convert", token: bt, json: ["contact_id": aContact]), 422, "validation_failed",
                          field: "contact_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/leads/\(bLead)/convert", token: bt, json: ["create_deal": true, "stage_id": aSales.stage("Lead In")]),
                          422, "validation_failed", field: "stage_id", detailCode: "not_found")
            let reorder = try await api.send(.put, "/api/v1/pipelines/\(bSales.id)/stages", token: bt, json: ["stage_ids": aSales.stageIDs])
            R.assertError(reorder, 422, "validation_failed", field: "stage_ids[0]", detailCode: "not_found")

            // Query filters → 400.
            for query in ["pipeline_id=\(aSales.id)", "stage_id=\(aSales.stage("Lead In"))", "company_id=\(aCompany)", "owner_id=\(aUser)",
                          "contact_id=\(aContact)"] {
                R.assertError(try await api.get("/api/v1/deals?\(query)", token: bt), 400, "bad_request", "GET /deals?\(query)")
            }
            R.assertError(try await api.get("/api/v1/tasks?assignee_id=\(aUser)", token: bt), 400, "bad_request", "tasks assignee_id")
            _ = try await C.dealID(api, bt, ["name": "In Qualified", "stage_id": bSales.stage("Qualified")])
            R.assertError(try await api.delete("/api/v1/pipelines/\(bSales.id)/stages/\(bSales.stage("Qualified"))?move_deals_to=\(aSales.stage("Lead In"))",
                                               token: bt), 400, "bad_request", "move_deals_to of another workspace")
            // B's lists show nothing of A.
            for objects in ["deals", "products", "leads", "tasks", "activities"] {
                let ids = try await R.listIDs(api, bt, "/api/v1/\(objects)")
                XCTAssertFalse(ids.contains(where: { [aDeal, aProduct, aLead, aTask, aAct].contains($0) }), objects)
            }
            let pipes = try await api.get("/api/v1/pipelines", token: bt)
            XCTAssertEqual(R.ids(pipes.items), [bSales.id])
            // A is untouched.
            let d = try await R.get(api, at, "deals", aDeal)
            XCTAssertEqual(R.int(d["version"]), 2, "one version from the line item only")
        }
    }

    func testViewersCannotWriteCRMRecords() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let v = team.viewer.accessToken
            let sales = try await C.defaultPipeline(api, team.owner.accessToken)
            let deal = try await C.dealID(api, team.owner.accessToken, ["name": "D", "stage_id": sales.stage("Lead In")])
            let lead = try await C.lead(api, team.owner.accessToken, ["name": "L"])
            let writes: [(String, String, [String: Any]?)] = [
                ("POST", "/api/v1/deals", ["name": "x", "stage_id": sales.stage("Lead In")]),
                ("PATCH", "/api/v1/deals/\(deal)", ["name": "x"]),
                ("POST", "/api/v1/deals/\(deal)/move", ["stage_id": sales.stage("Won")]),
                ("POST", "/api/v1/deals/\(deal)/line-items", ["name": "x", "quantity": 1, "unit_price": 1]),
                ("DELETE", "/api/v1/deals/\(deal)", nil),
                ("POST", "/api/v1/leads", ["name": "x"]), ("POST", "/api/v1/leads/\(lead)/convert", [:]),
                ("POST", "/api/v1/tasks", ["title": "x"]), ("POST", "/api/v1/products", ["name": "x"]),
                ("POST", "/api/v1/activities", ["type": "call", "related_to": [["type": "deal", "id": deal]]]),
            ]
            for (method, path, body) in writes {
                let r: TestResponse
                switch method {
                case "POST": r = try await api.post(path, token: v, json: body)
                case "PATCH": r = try await api.patch(path, token: v, json: body ?? [:])
                default: r = try await api.delete(path, token: v)
                }
                R.assertError(r, 403, "forbidden", "\(method) \(path)")
            }
            for path in ["/api/v1/deals", "/api/v1/deals/\(deal)", "/api/v1/deals/\(deal)/score", "/api/v1/leads", "/api/v1/tasks", "/api/v1/activities",
                         "/api/v1/products", "/api/v1/pipelines/\(sales.id)/board"] {
                C.expect(try await api.get(path, token: v), 200, path)
            }
            let d = try await R.get(api, team.owner.accessToken, "deals", deal)
            XCTAssertEqual(R.int(d["version"]), 1)
        }
    }
}
