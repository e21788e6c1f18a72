import Foundation
import XCTest

final class MultiInstanceTests: XCTestCase {
    /// Two instances' dispatchers and senders share the outbox: every event is fanned out once and delivered.
    func testTwoInstancesFanOutEveryEventExactlyOnce() async throws {
        try await withReceiver { url, log in
            try await withTwoInstances(workersOn) { one, two in
                let t = try await one.signup().accessToken
                let h = try await one.post("/api/v1/webhooks", token: t, json: ["url": url, "events": ["contact.created"]])
                XCTAssertEqual(h.code, 201, h.text)
                let hook = h.data["id"] as? String ?? ""
                for i in 0..<60 {
                    let api = i.isMultiple(of: 2) ? one : two
                    let r = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "C\(i)"])
                    XCTAssertEqual(r.code, 201, r.text)
                }
                try await eventually("60 distinct events delivered") { Set(await log.requests.map(\.eventID)).count == 60 }
                var deliveries: [[String: Any]] = []
                var cursor: String?
                repeat {
                    let page = try await one.get("/api/v1/webhooks/\(hook)/deliveries?limit=50" + (cursor.map { "&cursor=\($0)" } ?? ""), token: t)
                    deliveries += page.items
                    cursor = page.json["next_cursor"] as? String
                } while cursor != nil
                XCTAssertEqual(deliveries.count, 60, "one delivery per event: no event fanned out twice")
                XCTAssertEqual(Set(deliveries.compactMap { $0["event_id"] as? String }).count, 60)
                let requests = await log.requests.count
                XCTAssertEqual(requests, 60, "no delivery sent twice while both senders were healthy")
            }
        }
    }
}
