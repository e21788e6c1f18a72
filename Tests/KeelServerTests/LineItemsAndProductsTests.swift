import Foundation
import KeelCore
import XCTest

final class LineItemsAndProductsTests: XCTestCase {
    typealias R = RecordFixtures
    typealias C = CRMFixtures

    func testLineItemValidationAndTotals() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let deal = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In"), "value": 999])
            let path = "/api/v1/deals/\(deal)/line-items"
            for (body, field) in [(["name": "X", "quantity": 0, "unit_price": 1], "quantity"), (["name": "X", "quantity": -1, "unit_price": 1], "quantity"),
                                  (["name": "X", "quantity": 1.00001, "unit_price": 1], "quantity"),
                                  (["name": "X", "quantity": 1, "unit_price": 1, "discount_percent": 100.01], "discount_percent"),
                                  (["name": "X", "quantity": 1, "unit_price": 1, "discount_percent": -1], "discount_percent"),
                                  (["name": "X", "quantity": 1, "unit_price": 1.001], "unit_price"), (["name": "X", "quantity": 1, "unit_price": -1], "unit_price"),
                                  (["name": "X", "quantity": 1], "unit_price"), (["quantity": 1, "unit_price": 1], "name"),
                                  (["name": "X", "unit_price": 1, "product_id": R.fakeID("prd")], "product_id")] as [([String: Any], String)] {
                R.assertError(try await api.post(path, token: t, json: body), 422, "validation_failed", field: field, "\(body)")
            }
            var d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(R.num(d["value"]), 999, "failed writes leave the value")
            XCTAssertEqual(R.int(d["version"]), 1)

            // 2.5 × 0.01 = 0.025 → 0.02 (half-even); 1.5 × 0.01 = 0.015 → 0.02; 3 × 19.99 × 0.9 = 53.973 → 53.97
            let a = try await api.post(path, token: t, json: ["name": "Half A", "quantity": 2.5, "unit_price": 0.01])
            XCTAssertEqual(a.code, 201, a.text)
            XCTAssertEqual(R.num(a.data["total"]), 0.02)
            XCTAssertTrue((a.data["id"] as? String)?.hasPrefix("li_") == true)
            let b = try await api.post(path, token: t, json: ["name": "Half B", "quantity": 1.5, "unit_price": 0.01])
            XCTAssertEqual(R.num(b.data["total"]), 0.02)
            let c = try await api.post(path, token: t, json: ["name": "Seats", "quantity": 3, "unit_price": 19.99, "discount_percent": 10])
            XCTAssertEqual(R.num(c.data["total"]), 53.97)
            XCTAssertEqual(R.num(c.data["discount_percent"]), 10)
            XCTAssertEqual(c.data["currency"] as? String, "USD")
            d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(R.num(d["value"]), 54.01, "value = sum of rounded totals")
            XCTAssertEqual(R.int(d["version"]), 4, "each line-item change bumps the deal's version")
            let hist = try await R.history(api, t, "deals", deal)
            XCTAssertEqual(hist.filter { $0["field"] as? String == "value" }.count, 4, "\(hist)")

            // PATCH value while items exist → 422.
            R.assertError(try await api.patch("/api/v1/deals/\(deal)", token: t, json: ["value": 5]), 422, "validation_failed", field: "value")
            // Other edits still work.
            C.expect(try await api.patch("/api/v1/deals/\(deal)", token: t, json: ["name": "Renamed"]), 200)

            // PATCH a line item.
            let cid = c.data["id"] as? String ?? ""
            let p = try await api.patch("\(path)/\(cid)", token: t, json: ["quantity": 4, "discount_percent": 0])
            XCTAssertEqual(p.code, 200, p.text)
            XCTAssertEqual(R.num(p.data["total"]), 79.96)
            R.assertError(try await api.patch("\(path)/\(cid)", token: t, json: ["quantity": 0]), 422, "validation_failed", field: "quantity")
            R.assertError(try await api.patch("\(path)/\(cid)", token: t, json: ["name": NSNull()]), 422, "validation_failed", field: "name")
            R.assertError(try await api.patch("\(path)/\(cid)", token: t, json: ["quantity": 2], headers: ["If-Match": "\"1\""]), 409, "version_conflict")
            d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(R.num(d["value"]), 80)
            let list = try await api.get(path, token: t)
            XCTAssertEqual(list.items.count, 3)
            XCTAssertEqual(list.items.map { R.int($0["position"]) ?? -1 }, [0, 1, 2])

            // Removing items; the last one leaves the value at 0.
            for item in [a, b] { C.expect(try await api.delete("\(path)/\(item.data["id"] as? String ?? "")", token: t), 204) }
            d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(R.num(d["value"]), 79.96)
            C.expect(try await api.delete("\(path)/\(cid)", token: t), 204)
            d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(R.num(d["value"]), 0)
            C.expect(try await api.delete("\(path)/\(cid)", token: t), 404)
            // And value is writable again.
            let free = try await api.patch("/api/v1/deals/\(deal)", token: t, json: ["value": 12.5])
            XCTAssertEqual(free.code, 200, free.text)
            XCTAssertEqual(R.num(free.data["value"]), 12.5)
            C.expect(try await api.get("/api/v1/deals/\(R.fakeID("deal"))/line-items", token: t), 404)
            C.expect(try await api.patch("\(path)/\(R.fakeID("li"))", token: t, json: ["quantity": 1]), 404)
            let audit = try await R.audit(api, t, "action=line_item.created&object_id=\(deal)")
            XCTAssertEqual(audit.count, 3)
        }
    }

    func testUnitPriceDefaultsToTheProduct() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let product = try await R.create(api, t, "products", ["name": "Widget", "sku": "w-1", "price": 12.5])
            let pid = product["id"] as? String ?? ""
            let deal = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In")])
            let li = try await api.post("/api/v1/deals/\(deal)/line-items", token: t, json: ["product_id": pid, "quantity": 2])
            XCTAssertEqual(li.code, 201, li.text)
            XCTAssertEqual(R.num(li.data["unit_price"]), 12.5)
            XCTAssertEqual(li.data["name"] as? String, "Widget")
            XCTAssertEqual(li.data["product_id"] as? String, pid)
            XCTAssertEqual(R.num(li.data["total"]), 25)
            let override = try await api.post("/api/v1/deals/\(deal)/line-items", token: t, json: ["product_id": pid, "quantity": 1, "unit_price": 10,
                                                                                                  "name": "Widget (promo)"])
            XCTAssertEqual(R.num(override.data["unit_price"]), 10)
            XCTAssertEqual(override.data["name"] as? String, "Widget (promo)")
            let d = try await R.get(api, t, "deals", deal)
            XCTAssertEqual(R.num(d["value"]), 35)
            // A product without a price needs an explicit unit price.
            let free = try await R.create(api, t, "products", ["name": "Consulting"])
            R.assertError(try await api.post("/api/v1/deals/\(deal)/line-items", token: t, json: ["product_id": free["id"] as? String ?? "", "quantity": 1]),
                          422, "validation_failed", field: "unit_price")
        }
    }

    func testProducts() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let a = try await R.create(api, t, "products", ["name": "Anvil", "sku": "acme-anvil", "price": 100, "description": "Heavy iron", "unit": "piece"])
            XCTAssertEqual(a["sku"] as? String, "ACME-ANVIL")
            XCTAssertEqual(a["currency"] as? String, "USD")
            XCTAssertEqual(a["is_active"] as? Bool, true)
            let aid = a["id"] as? String ?? ""
            XCTAssertTrue(aid.hasPrefix("prd_"))
            let b = try await R.create(api, t, "products", ["name": "Rocket skates", "sku": "ACME-SK8", "price": 250.5, "is_active": false])
            let bid = b["id"] as? String ?? ""
            let c = try await R.create(api, t, "products", ["name": "Bird seed", "price": 5])
            let cid = c["id"] as? String ?? ""

            let dup = try await api.post("/api/v1/products", token: t, json: ["name": "Other", "sku": "Acme-Anvil"])
            R.assertError(dup, 409, "duplicate", field: "sku")
            XCTAssertTrue(dup.text.contains(aid), dup.text)
            R.assertError(try await api.patch("/api/v1/products/\(bid)", token: t, json: ["sku": "acme-anvil"]), 409, "duplicate")
            R.assertError(try await api.post("/api/v1/products", token: t, json: ["name": "X", "price": 1.001]), 422, "validation_failed", field: "price")
            R.assertError(try await api.post("/api/v1/products", token: t, json: ["name": "X", "currency": "ZZZ"]), 422, "validation_failed", field: "currency")
            R.assertError(try await api.post("/api/v1/products", token: t, json: ["sku": "X"]), 422, "validation_failed", field: "name")

            let bySku = try await api.get("/api/v1/products/sku/acme-sk8", token: t)
            XCTAssertEqual(bySku.code, 200, bySku.text)
            XCTAssertEqual(bySku.data["id"] as? String, bid)
            C.expect(try await api.get("/api/v1/products/sku/NOPE", token: t), 404)

            let cases: [(String, Set<String>)] = [
                ("q=anvil", [aid]), ("q=acme", [aid, bid]), ("q=iron", [aid]), ("q=SEED", [cid]),
                ("min_price=100", [aid, bid]), ("max_price=100", [aid, cid]), ("min_price=6&max_price=200", [aid]),
                ("price_gte=250.5", [bid]), ("price_lte=5", [cid]),
                ("is_active=true", [aid, cid]), ("is_active=false", [bid]),
            ]
            for (query, expected) in cases {
                let got = try await R.listIDs(api, t, "/api/v1/products?\(query)")
                XCTAssertEqual(got, expected, query)
            }
            R.assertError(try await api.get("/api/v1/products?min_price=cheap", token: t), 400, "bad_request")
            R.assertError(try await api.get("/api/v1/products?is_active=maybe", token: t), 400, "bad_request")
            // A deleted product frees its SKU.
            try await R.delete(api, t, "products", aid)
            C.expect(try await api.get("/api/v1/products/sku/ACME-ANVIL", token: t), 404)
            let again = try await api.post("/api/v1/products", token: t, json: ["name": "Anvil 2", "sku": "acme-anvil"])
            XCTAssertEqual(again.code, 201, again.text)
            // Viewers read but do not write.
            let viewer = try await api.addMember(t, email: "v@example.com", role: "viewer")
            C.expect(try await api.get("/api/v1/products", token: viewer.accessToken), 200)
            R.assertError(try await api.post("/api/v1/products", token: viewer.accessToken, json: ["name": "X"]), 403, "forbidden")
        }
    }
}
