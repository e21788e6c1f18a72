import Foundation
import XCTest

final class DealsSmokeTests: XCTestCase {
    func testPipelineDealsMovesLineItemsAndBoard() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let pipes = try await api.get("/api/v1/pipelines", token: t)
            XCTAssertEqual(pipes.code, 200, pipes.text)
            let pipe = try XCTUnwrap(pipes.items.first)
            XCTAssertEqual(pipe["is_default"] as? Bool, true)
            let stages = try XCTUnwrap(pipe["stages"] as? [[String: Any]])
            XCTAssertEqual(stages.map { $0["name"] as? String ?? "" }, ["Lead In", "Qualified", "Proposal", "Negotiation", "Won", "Lost"])
            XCTAssertEqual(stages.map { $0["probability"] as? Double ?? -1 }, [0.2, 0.4, 0.6, 0.8, 1, 0])
            let lead = stages[0]["id"] as? String ?? "", proposal = stages[2]["id"] as? String ?? "", won = stages[4]["id"] as? String ?? ""
            let pid = pipe["id"] as? String ?? ""
            let deal = try await api.post("/api/v1/deals", token: t, json: ["name": "Big deal", "stage_id": lead, "value": 1000.5])
            XCTAssertEqual(deal.code, 201, deal.text)
            XCTAssertEqual(deal.data["status"] as? String, "open")
            XCTAssertEqual(deal.data["pipeline_id"] as? String, pid)
            XCTAssertEqual(deal.data["currency"] as? String, "USD")
            XCTAssertEqual(deal.data["probability"] as? Double, 0.2)
            let id = deal.data["id"] as? String ?? ""
            let precise = try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": lead, "value": 10.001])
            XCTAssertEqual(precise.code, 422)
            let moved = try await api.post("/api/v1/deals/\(id)/move", token: t, json: ["stage_id": proposal])
            XCTAssertEqual(moved.code, 200, moved.text)
            XCTAssertEqual(moved.data["probability"] as? Double, 0.6)
            let wonDeal = try await api.post("/api/v1/deals/\(id)/move", token: t, json: ["stage_id": won])
            XCTAssertEqual(wonDeal.data["status"] as? String, "won")
            XCTAssertFalse(wonDeal.data["closed_at"] is NSNull)
            let history = try await api.get("/api/v1/deals/\(id)/stage-history", token: t)
            XCTAssertEqual(history.items.count, 3, history.text)
            let reopened = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["stage_id": lead])
            XCTAssertEqual(reopened.data["status"] as? String, "open")
            XCTAssertTrue(reopened.data["closed_at"] is NSNull)
            let li = try await api.post("/api/v1/deals/\(id)/line-items", token: t, json: ["name": "Seats", "quantity": 3, "unit_price": 19.99, "discount_percent": 10])
            XCTAssertEqual(li.code, 201, li.text)
            XCTAssertEqual(li.data["total"] as? Double, 53.97)
            let after = try await api.get("/api/v1/deals/\(id)", token: t)
            XCTAssertEqual(after.data["value"] as? Double, 53.97)
            let blocked = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["value": 5])
            XCTAssertEqual(blocked.code, 422)
            let stageList = try await api.get("/api/v1/pipelines/\(pid)/stages", token: t)
            XCTAssertEqual(stageList.items.first?["deal_count"] as? Int, 1)
            XCTAssertEqual(stageList.items.first?["deal_value"] as? Double, 53.97)
            let board = try await api.get("/api/v1/pipelines/\(pid)/board?per_stage=5", token: t)
            XCTAssertEqual(board.code, 200, board.text)
            let columns = board.data["stages"] as? [[String: Any]] ?? []
            XCTAssertEqual((columns.first?["deals"] as? [[String: Any]])?.count, 1)
            let expanded = try await api.get("/api/v1/deals?stage_id=\(lead)&status=open&expand=stage,pipeline,owner", token: t)
            XCTAssertEqual((expanded.items.first?["stage"] as? [String: Any])?["name"] as? String, "Lead In", expanded.text)
            let product = try await api.post("/api/v1/products", token: t, json: ["name": "Widget", "sku": "wid-1", "price": 5])
            XCTAssertEqual(product.data["sku"] as? String, "WID-1")
            let bySku = try await api.get("/api/v1/products/sku/wid-1", token: t)
            XCTAssertEqual(bySku.code, 200, bySku.text)
            let dupSku = try await api.post("/api/v1/products", token: t, json: ["name": "Other", "sku": "WID-1"])
            XCTAssertEqual(dupSku.code, 409)
        }
    }
}
