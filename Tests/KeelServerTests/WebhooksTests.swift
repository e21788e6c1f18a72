import Foundation
import KeelCore
import KeelServer
import XCTest

func hook(_ api: API, _ t: String, url: String, events: [String] = ["contact.*"]) async throws -> (id: String, secret: String) {
    let r = try await api.post("/api/v1/webhooks", token: t, json: ["url": url, "events": events, "description": "test"])
    XCTAssertEqual(r.code, 201, r.text)
    return (r.data["id"] as? String ?? "", r.data["secret"] as? String ?? "")
}

func deliveries(_ api: API, _ t: String, _ id: String) async throws -> [[String: Any]] {
    try await api.get("/api/v1/webhooks/\(id)/deliveries", token: t).items
}

final class WebhooksTests: XCTestCase {
    func testCreateShowsTheSecretOnceAndValidates() async throws {
        try await withApp({ $0.webhooksAllowPrivate = true }) { api, _ in
            let t = try await api.signup().accessToken
            let r = try await api.post("/api/v1/webhooks", token: t, json: ["url": "https://hooks.example.com/keel", "events": ["deal.*", "contact.created"]])
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("whk_"))
            XCTAssertEqual(r.header("Location"), "/api/v1/webhooks/\(id)")
            XCTAssertTrue((r.data["secret"] as? String ?? "").hasPrefix("whsec_"))
            XCTAssertEqual(r.data["status"] as? String, "active")
            let got = try await api.get("/api/v1/webhooks/\(id)", token: t)
            XCTAssertEqual(got.code, 200)
            XCTAssertNil(got.data["secret"], "the secret is shown only at creation and rotation")
            XCTAssertEqual(got.data["events"] as? [String], ["deal.*", "contact.created"])
            let listed = try await api.get("/api/v1/webhooks", token: t)
            XCTAssertEqual(listed.items.count, 1)
            XCTAssertNil(listed.items.first?["secret"])

            let bad: [[String: Any]] = [
                ["url": "ftp://example.com/x", "events": ["deal.*"]],
                ["url": "not a url", "events": ["deal.*"]],
                ["url": "https://u:p@example.com/x", "events": ["deal.*"]],
                ["url": "https://example.com/x", "events": []],
                ["url": "https://example.com/x", "events": ["deal.nope"]],
                ["url": "https://example.com/x", "events": ["nothing.*"]],
                ["url": "https://example.com/x", "events": "deal.*"],
                ["events": ["deal.*"]],
                ["url": "https://example.com/x", "events": ["deal.*"], "secret": "mine"],
            ]
            for body in bad {
                let e = try await api.post("/api/v1/webhooks", token: t, json: body)
                XCTAssertEqual(e.code, 422, "\(body): \(e.text)")
                XCTAssertEqual(e.errorCode, "validation_failed")
            }
            let count = try await api.get("/api/v1/webhooks", token: t).items.count
            XCTAssertEqual(count, 1, "refused bodies create nothing")

            let paused = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["status": "paused", "events": ["*"]])
            XCTAssertEqual(paused.code, 200, paused.text)
            XCTAssertEqual(paused.data["status"] as? String, "paused")
            XCTAssertEqual(paused.data["events"] as? [String], ["*"])
            XCTAssertEqual(paused.data["version"] as? Int, 2)
            let disabled = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["status": "disabled"])
            XCTAssertEqual(disabled.code, 422)
            let stale = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["description": "x"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409)
            XCTAssertEqual(stale.errorCode, "version_conflict")
            let unknown = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["colour": "red"])
            XCTAssertEqual(unknown.code, 422)

            let gone = try await api.delete("/api/v1/webhooks/\(id)", token: t)
            XCTAssertEqual(gone.code, 204)
            let after = try await api.get("/api/v1/webhooks/\(id)", token: t).code
            XCTAssertEqual(after, 404)
            let wrongShape = try await api.get("/api/v1/webhooks/con_123", token: t).code
            XCTAssertEqual(wrongShape, 404)
            let audit = try await api.get("/api/v1/audit/logs", token: t)
            let actions = audit.items.compactMap { $0["action"] as? String }
            XCTAssertTrue(actions.contains("webhook.created") && actions.contains("webhook.deleted"), "\(actions)")
        }
    }

    func testPrivateLoopbackAndLinkLocalURLsAreRefused() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            for url in ["http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/x", "http://192.168.0.10/x", "http://172.16.5.4/x",
                        "http://169.254.169.254/latest/meta-data", "http://[::1]/x", "http://[fe80::1]/x", "http://0.0.0.0/x"] {
                let r = try await api.post("/api/v1/webhooks", token: t, json: ["url": url, "events": ["*"]])
                XCTAssertEqual(r.code, 422, "\(url): \(r.text)")
                XCTAssertEqual(r.errorDetails.first?["code"] as? String, "private_address", url)
            }
            let ok = try await api.post("/api/v1/webhooks", token: t, json: ["url": "http://93.184.216.34/hook", "events": ["*"]])
            XCTAssertEqual(ok.code, 201, ok.text)
            let id = ok.data["id"] as? String ?? ""
            let moved = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["url": "http://127.0.0.1/x"])
            XCTAssertEqual(moved.code, 422, "a PATCH is checked like a create")
        }
    }

    func testMembersCannotManageWebhooksAndWorkspacesAreIsolated() async throws {
        try await withApp({ $0.openSignup = true; $0.webhooksAllowPrivate = true }) { api, _ in
            let a = try await api.signup(email: "a@example.com", workspace: "A").accessToken
            let b = try await api.signup(email: "b@example.com", workspace: "B").accessToken
            let (id, _) = try await hook(api, a, url: "http://127.0.0.1:9/hook")
            let c = try await api.post("/api/v1/contacts", token: a, json: ["first_name": "Ada"])
            XCTAssertEqual(c.code, 201)
            let test = try await api.post("/api/v1/webhooks/\(id)/test", token: a)
            XCTAssertEqual(test.code, 202, test.text)
            let did = test.data["id"] as? String ?? ""
            for (method, path) in [("GET", "/api/v1/webhooks/\(id)"), ("PATCH", "/api/v1/webhooks/\(id)"), ("DELETE", "/api/v1/webhooks/\(id)"),
                                   ("POST", "/api/v1/webhooks/\(id)/rotate-secret"), ("POST", "/api/v1/webhooks/\(id)/test"),
                                   ("GET", "/api/v1/webhooks/\(id)/deliveries"), ("POST", "/api/v1/webhooks/\(id)/deliveries/\(did)/redeliver")] {
                let r: TestResponse
                switch method {
                case "GET": r = try await api.get(path, token: b)
                case "PATCH": r = try await api.patch(path, token: b, json: ["description": "mine now"])
                case "DELETE": r = try await api.delete(path, token: b)
                default: r = try await api.post(path, token: b)
                }
                XCTAssertEqual(r.code, 404, "\(method) \(path) from another workspace: \(r.text)")
            }
            let listB = try await api.get("/api/v1/webhooks", token: b)
            XCTAssertEqual(listB.items.count, 0)
            let still = try await api.get("/api/v1/webhooks/\(id)", token: a)
            XCTAssertEqual(still.data["description"] as? String, "test")

            let member = try await api.addMember(a, email: "m@example.com", role: "member")
            let denied = try await api.post("/api/v1/webhooks", token: member.accessToken, json: ["url": "http://127.0.0.1:9/x", "events": ["*"]])
            XCTAssertEqual(denied.code, 403, denied.text)
            let deniedRead = try await api.get("/api/v1/webhooks", token: member.accessToken).code
            XCTAssertEqual(deniedRead, 403)
        }
    }

    func testDeliveryIsSignedAndMatchesTheEvent() async throws {
        try await withReceiver { url, log in
            try await withApp(workersOn) { api, _ in
                let t = try await api.signup().accessToken
                let (id, secret) = try await hook(api, t, url: url, events: ["contact.*"])
                let c = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada", "email": "ada@example.com"])
                let cid = c.data["id"] as? String ?? ""
                _ = try await api.post("/api/v1/companies", token: t, json: ["name": "Not subscribed"])
                _ = try await api.patch("/api/v1/contacts/\(cid)", token: t, json: ["title": "Countess"])
                try await eventually("two contact deliveries") { await log.requests.count >= 2 }
                let requests = await log.requests
                XCTAssertEqual(Set(requests.map(\.eventType)), ["contact.created", "contact.updated"])
                let events = try await api.get("/api/v1/events?object_id=\(cid)", token: t).items
                for r in requests {
                    XCTAssertTrue(WebhookSignature.verify(header: r.headers["keel-signature"] ?? "", body: r.body, secret: secret, now: Date()),
                                  "signature must verify with the endpoint secret")
                    XCTAssertFalse(WebhookSignature.verify(header: r.headers["keel-signature"] ?? "", body: r.body + " ", secret: secret, now: Date()))
                    XCTAssertTrue((r.headers["keel-delivery-id"] ?? "").hasPrefix("dlv_"))
                    XCTAssertEqual(r.headers["content-type"], "application/json")
                    XCTAssertTrue(events.contains { $0["id"] as? String == r.eventID }, "Keel-Event-Id is the event's id")
                    XCTAssertEqual(r.json["id"] as? String, r.eventID)
                    XCTAssertEqual(((r.json["data"] as? [String: Any])?["object"] as? [String: Any])?["id"] as? String, cid)
                }
                let updated = requests.first { $0.eventType == "contact.updated" }?.json["data"] as? [String: Any] ?? [:]
                XCTAssertEqual(updated["changed_fields"] as? [String], ["title"])
                XCTAssertEqual((updated["previous"] as? [String: Any])?.keys.sorted(), ["title"])
                try await eventually("both deliveries logged as succeeded") {
                    try await deliveries(api, t, id).filter { $0["status"] as? String == "succeeded" }.count == 2
                }
                let logged = try await deliveries(api, t, id)
                XCTAssertEqual(logged.count, 2, "the company event matched no pattern and was not fanned out")
                let attempt = (logged.first?["attempts"] as? [[String: Any]])?.first ?? [:]
                XCTAssertEqual(attempt["status_code"] as? Int, 200)
                XCTAssertEqual(attempt["response_snippet"] as? String, "ok")
                XCTAssertEqual(attempt["succeeded"] as? Bool, true)
                XCTAssertNotNil(attempt["duration_ms"] as? Int)
                let filtered = try await api.get("/api/v1/webhooks/\(id)/deliveries?status=failed", token: t)
                XCTAssertEqual(filtered.items.count, 0)
                let badFilter = try await api.get("/api/v1/webhooks/\(id)/deliveries?status=weird", token: t).code
                XCTAssertEqual(badFilter, 400)
            }
        }
    }

    /// 500, a timeout, 503, then 200: four attempts of one event, same Keel-Event-Id, spaced by the (scaled) schedule.
    func testFailingReceiverGetsTheEventAgainOnTheScheduleUntilItSucceeds() async throws {
        let replies: [ReceiverReply] = [ReceiverReply(status: .internalServerError, body: String(repeating: "x", count: 5000)),
                                        ReceiverReply(delay: .seconds(3)), ReceiverReply(status: .serviceUnavailable), ReceiverReply()]
        try await withReceiver({ replies[min($0, 3)] }) { url, log in
            try await withApp({ workersOn(&$0); $0.webhookTimeoutMillis = 500 }) { api, _ in
                let t = try await api.signup().accessToken
                let (id, _) = try await hook(api, t, url: url, events: ["contact.created"])
                _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"])
                try await eventually("the delivery to succeed") {
                    try await deliveries(api, t, id).first?["status"] as? String == "succeeded"
                }
                let requests = await log.requests
                XCTAssertEqual(requests.count, 4, "N failures then success means N+1 requests")
                XCTAssertEqual(Set(requests.map(\.eventID)).count, 1, "every attempt carries the same Keel-Event-Id")
                XCTAssertEqual(Set(requests.map { $0.headers["keel-delivery-id"] ?? "" }).count, 1)
                let d = try await deliveries(api, t, id).first ?? [:]
                XCTAssertEqual(d["attempt_count"] as? Int, 4)
                let attempts = d["attempts"] as? [[String: Any]] ?? []
                XCTAssertEqual(attempts.map { $0["attempt"] as? Int ?? 0 }, [1, 2, 3, 4])
                XCTAssertEqual(attempts[0]["status_code"] as? Int, 500)
                XCTAssertEqual((attempts[0]["response_snippet"] as? String)?.utf8.count, 2048, "the snippet is capped at 2 KB")
                XCTAssertNil(attempts[1]["status_code"] as? Int)
                XCTAssertTrue((attempts[1]["error"] as? String ?? "").contains("timeout"), "\(attempts[1])")
                XCTAssertEqual(attempts[2]["status_code"] as? Int, 503)
                XCTAssertEqual(attempts[3]["status_code"] as? Int, 200)
                // Lower bounds only: a retry never comes before its (scaled) delay minus the 10 % jitter.
                let scaled = RetrySchedule.delays.map { $0 * 0.0005 }
                for i in 1..<attempts.count {
                    let prevStart = Timestamp.parse(attempts[i - 1]["started_at"] as? String ?? "") ?? Date()
                    let prevDuration = Double(attempts[i - 1]["duration_ms"] as? Int ?? 0) / 1000
                    let start = Timestamp.parse(attempts[i]["started_at"] as? String ?? "") ?? Date()
                    XCTAssertGreaterThanOrEqual(start.timeIntervalSince(prevStart) + 0.005, prevDuration + scaled[i - 1] * 0.9, "attempt \(i + 1)")
                }
            }
        }
    }

    func testConnectionRefusedIsRetriedAndDeliveredOnceTheReceiverAnswers() async throws {
        try await withReceiver { url, log in
            try await withApp({ workersOn(&$0); $0.webhookRetryScale = 0.002 }) { api, _ in
                let t = try await api.signup().accessToken
                let (id, _) = try await hook(api, t, url: "http://127.0.0.1:9/hook", events: ["contact.created"])
                _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"])
                try await eventually("two refused attempts") {
                    (try await deliveries(api, t, id).first?["attempt_count"] as? Int ?? 0) >= 2
                }
                let failing = try await deliveries(api, t, id).first ?? [:]
                XCTAssertEqual(failing["status"] as? String, "pending", "still being retried")
                XCTAssertNotNil(failing["next_attempt_at"] as? String)
                let errors = (failing["attempts"] as? [[String: Any]] ?? []).compactMap { $0["error"] as? String }
                XCTAssertTrue(errors.allSatisfy { $0.contains("refused") }, "\(errors)")
                let moved = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["url": url])
                XCTAssertEqual(moved.code, 200)
                try await eventually("the receiver to get it") { await log.requests.count == 1 }
                try await eventually("success logged") { try await deliveries(api, t, id).first?["status"] as? String == "succeeded" }
                let event = try await api.get("/api/v1/events?type=contact.created", token: t).items.first?["id"] as? String
                let got = await log.requests.first?.eventID
                XCTAssertEqual(got, event)
                let hookNow = try await api.get("/api/v1/webhooks/\(id)", token: t)
                XCTAssertEqual(hookNow.data["status"] as? String, "active")
            }
        }
    }

    func testGoneDisablesTheEndpointUntilReenabled() async throws {
        try await withReceiver({ _ in ReceiverReply(status: .gone) }) { url, log in
            try await withApp(workersOn) { api, _ in
                let t = try await api.signup().accessToken
                let (id, _) = try await hook(api, t, url: url)
                _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"])
                try await eventually("the endpoint to be disabled") {
                    try await api.get("/api/v1/webhooks/\(id)", token: t).data["status"] as? String == "disabled"
                }
                let h = try await api.get("/api/v1/webhooks/\(id)", token: t)
                XCTAssertTrue((h.data["disabled_reason"] as? String ?? "").contains("410"), h.text)
                let d = try await deliveries(api, t, id)
                XCTAssertEqual(d.first?["status"] as? String, "failed")
                XCTAssertEqual(d.first?["attempt_count"] as? Int, 1, "410 is not retried")
                _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Bob"])
                let test = try await api.post("/api/v1/webhooks/\(id)/test", token: t)
                XCTAssertEqual(test.code, 409, "a disabled endpoint takes no test")
                let feed = try await api.get("/api/v1/events?type=contact.created", token: t).items.count
                XCTAssertEqual(feed, 2)
                try await eventually("the second event to be dispatched") {
                    // The dispatcher has caught up once a later event fans out; a disabled endpoint gets nothing new.
                    try await deliveries(api, t, id).count == 1
                }
                let requests = await log.requests.count
                XCTAssertEqual(requests, 1)
                let back = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["status": "active"])
                XCTAssertEqual(back.data["status"] as? String, "active")
                XCTAssertTrue(back.data["disabled_reason"] is NSNull)
            }
        }
    }

    func testRotationSignsWithBothSecretsAndTheTestEvent() async throws {
        try await withReceiver { url, log in
            try await withApp(workersOn) { api, _ in
                let t = try await api.signup().accessToken
                let (id, oldSecret) = try await hook(api, t, url: url)
                let rotated = try await api.post("/api/v1/webhooks/\(id)/rotate-secret", token: t)
                XCTAssertEqual(rotated.code, 200, rotated.text)
                let newSecret = rotated.data["secret"] as? String ?? ""
                XCTAssertTrue(newSecret.hasPrefix("whsec_"))
                XCTAssertNotEqual(newSecret, oldSecret)
                XCTAssertNotNil(rotated.data["previous_secret_expires_at"] as? String)
                let test = try await api.post("/api/v1/webhooks/\(id)/test", token: t)
                XCTAssertEqual(test.code, 202, test.text)
                XCTAssertEqual(test.data["event_type"] as? String, "webhook.test")
                try await eventually("the test delivery") { await log.requests.count == 1 }
                let r = await log.requests[0]
                XCTAssertEqual(r.eventType, "webhook.test")
                let header = r.headers["keel-signature"] ?? ""
                XCTAssertEqual(header.components(separatedBy: "v1=").count - 1, 2, "both signatures for 24 h: \(header)")
                XCTAssertTrue(header.hasPrefix("t="))
                XCTAssertTrue(WebhookSignature.verify(header: header, body: r.body, secret: newSecret, now: Date()))
                XCTAssertTrue(WebhookSignature.verify(header: header, body: r.body, secret: oldSecret, now: Date()))
                XCTAssertFalse(WebhookSignature.verify(header: header, body: r.body, secret: "whsec_wrong", now: Date()))
            }
        }
    }

    func testPauseHoldsDeliveriesAndResumeSendsThem() async throws {
        try await withReceiver { url, log in
            try await withApp(workersOn) { api, _ in
                let t = try await api.signup().accessToken
                let (id, _) = try await hook(api, t, url: url)
                _ = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["status": "paused"])
                _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"])
                try await eventually("the delivery to be queued") { try await deliveries(api, t, id).count == 1 }
                try await Task.sleep(for: .milliseconds(300))
                let held = await log.requests.count
                XCTAssertEqual(held, 0, "nothing is sent while paused")
                let queued = try await deliveries(api, t, id).first?["attempt_count"] as? Int
                XCTAssertEqual(queued, 0)
                _ = try await api.patch("/api/v1/webhooks/\(id)", token: t, json: ["status": "active"])
                try await eventually("the held delivery after resume") { await log.requests.count == 1 }
            }
        }
    }

    func testRedeliverSendsTheSameEventAgain() async throws {
        try await withReceiver { url, log in
            try await withApp(workersOn) { api, _ in
                let t = try await api.signup().accessToken
                let (id, _) = try await hook(api, t, url: url)
                _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada"])
                try await eventually("first delivery") { try await deliveries(api, t, id).first?["status"] as? String == "succeeded" }
                let did = try await deliveries(api, t, id).first?["id"] as? String ?? ""
                let again = try await api.post("/api/v1/webhooks/\(id)/deliveries/\(did)/redeliver", token: t)
                XCTAssertEqual(again.code, 202, again.text)
                XCTAssertNotEqual(again.data["id"] as? String, did)
                try await eventually("redelivery") { await log.requests.count == 2 }
                let requests = await log.requests
                XCTAssertEqual(requests[0].eventID, requests[1].eventID)
                XCTAssertEqual(requests[0].body, requests[1].body)
                XCTAssertNotEqual(requests[0].headers["keel-delivery-id"], requests[1].headers["keel-delivery-id"])
                let missing = try await api.post("/api/v1/webhooks/\(id)/deliveries/dlv_01JD5X8Q2M7V3R9K4T6W8Y0Z1A/redeliver", token: t).code
                XCTAssertEqual(missing, 404)
            }
        }
    }

    /// Deliveries in flight to a receiver that takes 9 s each do not hold up API requests.
    /// Workspace A's receiver hangs until released; workspace B's answers at once. B's events are delivered while every one
    /// of A's is still waiting, and A's endpoint never has more than its share of the sender's slots.
    func testHangingReceiverHoldsBackNoOtherEndpoint() async throws {
        try await withReceiver({ _ in ReceiverReply(delay: .seconds(25), holdUntilReleased: true) }) { hangingURL, hanging in
            try await withReceiver { quickURL, quick in
                try await withApp({ workersOn(&$0); $0.openSignup = true; $0.webhookTimeoutMillis = 30_000 }) { api, _ in
                    let a = try await api.signup(email: "a@example.com", workspace: "A").accessToken
                    let b = try await api.signup(email: "b@example.com", workspace: "B").accessToken
                    _ = try await hook(api, a, url: hangingURL)
                    _ = try await hook(api, b, url: quickURL)
                    for i in 0..<20 { _ = try await api.post("/api/v1/contacts", token: a, json: ["first_name": "Held \(i)"]) }
                    try await eventually("A's receiver to hold some deliveries") { await hanging.requests.count >= 4 }
                    for i in 0..<3 { _ = try await api.post("/api/v1/contacts", token: b, json: ["first_name": "Quick \(i)"]) }
                    try await eventually("B's three deliveries", timeout: .seconds(20)) { await quick.requests.count >= 3 }
                    let answered = await hanging.answered
                    XCTAssertEqual(answered, 0, "B's events went out while all of A's were still on the wire")
                    let held = await hanging.requests.count
                    XCTAssertEqual(held, 4, "one endpoint holds at most its four slots, not all thirty-two")
                    let quickEvents = await quick.requests.map(\.eventType)
                    XCTAssertEqual(quickEvents, ["contact.created", "contact.created", "contact.created"])
                    await hanging.release()
                    try await eventually("all twenty of A's events") { Set(await hanging.requests.map(\.eventID)).count == 20 }
                    let bReceived = await quick.requests.count
                    XCTAssertEqual(bReceived, 3, "B never received A's events")
                }
            }
        }
    }

    func testSlowReceiverDoesNotSlowTheAPI() async throws {
        try await withReceiver({ _ in ReceiverReply(delay: .seconds(9), holdUntilReleased: true) }) { url, log in
            try await withApp({ workersOn(&$0); $0.webhookTimeoutMillis = 10_000 }) { api, _ in
                let t = try await api.signup().accessToken
                _ = try await hook(api, t, url: url)
                for i in 0..<3 { _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Slow \(i)"]) }
                try await eventually("deliveries in flight") { await log.requests.count >= 1 }
                for i in 0..<30 {
                    let created = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Fast \(i)"])
                    XCTAssertEqual(created.code, 201)
                    let listed = try await api.get("/api/v1/contacts?limit=5", token: t)
                    XCTAssertEqual(listed.code, 200)
                }
                let answered = await log.answered
                XCTAssertEqual(answered, 0, "all 60 API requests completed while every delivery was still waiting on the receiver")
                await log.release()
                try await eventually("the receiver to answer") { await log.answered >= 1 }
            }
        }
    }
}
