import Foundation
import XCTest
@testable import KeelCore

final class WebhookLogicTests: XCTestCase {
    func testSignatureIsHMACSHA256OverTimestampDotBody() {
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test'
        let hex = WebhookSignature.hex(secret: "whsec_test", timestamp: 1_700_000_000, body: #"{"a":1}"#)
        XCTAssertEqual(hex, "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789")
        XCTAssertEqual(hex.count, 64)
        let header = WebhookSignature.header(secrets: ["whsec_new", "whsec_old"], timestamp: 1_700_000_000, body: "{}")
        XCTAssertTrue(header.hasPrefix("t=1700000000,v1="))
        XCTAssertEqual(header.components(separatedBy: ",v1=").count, 3)
        let at = Date(timeIntervalSince1970: 1_700_000_100)
        XCTAssertTrue(WebhookSignature.verify(header: header, body: "{}", secret: "whsec_new", now: at))
        XCTAssertTrue(WebhookSignature.verify(header: header, body: "{}", secret: "whsec_old", now: at))
        XCTAssertFalse(WebhookSignature.verify(header: header, body: "{ }", secret: "whsec_new", now: at))
        XCTAssertFalse(WebhookSignature.verify(header: header, body: "{}", secret: "whsec_other", now: at))
        XCTAssertFalse(WebhookSignature.verify(header: header, body: "{}", secret: "whsec_new", now: at.addingTimeInterval(3600)), "stale timestamps are refused")
        XCTAssertFalse(WebhookSignature.verify(header: "v1=abc", body: "{}", secret: "whsec_new", now: at))
    }

    func testSlotsCapEachEndpointAndTheTotal() {
        func due(_ n: Int, _ endpoint: String) -> DueDelivery {
            DueDelivery(workspaceID: WorkspaceID(trusted: "wsp_1"), id: DeliveryID(trusted: "dlv_\(n)"), endpointID: WebhookID(trusted: endpoint))
        }
        let slow = WebhookID(trusted: "whk_slow"), fast = WebhookID(trusted: "whk_fast")
        var slots = DeliverySlots(concurrency: 6, perEndpoint: 2)
        XCTAssertEqual(slots.free, 6)
        XCTAssertEqual(slots.candidateLimit, 24)
        // Due order puts five of the slow endpoint first: only two of them are taken, and the fast endpoint's follow.
        let candidates = (0..<5).map { due($0, "whk_slow") } + [due(5, "whk_fast"), due(6, "whk_fast"), due(7, "whk_fast"), due(8, "whk_other")]
        let chosen = slots.choose(candidates)
        XCTAssertEqual(chosen.map(\.id.rawValue), ["dlv_0", "dlv_1", "dlv_5", "dlv_6", "dlv_8"])
        XCTAssertEqual(slots.free, 6, "choosing is not starting")
        for c in chosen { slots.started(c.endpointID) }
        XCTAssertEqual(slots.free, 1)
        XCTAssertEqual(slots.full, [slow, fast])
        XCTAssertEqual(slots.choose([due(9, "whk_slow"), due(10, "whk_fast")]), [], "full endpoints take nothing more")
        XCTAssertEqual(slots.choose([due(9, "whk_other"), due(10, "whk_new"), due(11, "whk_new")]).map(\.id.rawValue), ["dlv_9"],
                       "no more than the free slots")
        slots.finished(slow)
        XCTAssertEqual(slots.full, [fast])
        XCTAssertEqual(slots.free, 2)
        XCTAssertEqual(slots.choose([due(12, "whk_slow"), due(13, "whk_slow")]).map(\.id.rawValue), ["dlv_12"])
        slots.finished(WebhookID(trusted: "whk_unknown"))
        XCTAssertEqual(slots.free, 2, "finishing an endpoint with nothing in flight changes nothing")
        for c in chosen { slots.finished(c.endpointID) }
        XCTAssertEqual(slots.free, 6)
        XCTAssertEqual(slots.inFlight, [:])
        XCTAssertEqual(DeliverySlots(concurrency: 100, perEndpoint: 0).candidateLimit, 64, "bounded, and at least one per endpoint")
        XCTAssertEqual(DeliverySlots(concurrency: 100, perEndpoint: 0).perEndpoint, 1)
    }

    func testRotationKeepsTheOldSecretFor24HoursOnly() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var e = WebhookEndpoint(id: WebhookID(trusted: "whk_1"), workspaceID: WorkspaceID(trusted: "wsp_1"), url: "https://x.example", description: nil,
                                events: ["*"], secret: "whsec_new", createdBy: nil, createdAt: now, updatedAt: now)
        XCTAssertEqual(e.signingSecrets(at: now), ["whsec_new"])
        e.previousSecret = "whsec_old"
        e.previousSecretUntil = now.addingTimeInterval(86_400)
        XCTAssertEqual(e.signingSecrets(at: now.addingTimeInterval(3600)), ["whsec_new", "whsec_old"])
        XCTAssertEqual(e.signingSecrets(at: now.addingTimeInterval(86_401)), ["whsec_new"])
    }

    func testRetryScheduleAndJitter() {
        let s = RetrySchedule()
        let t0 = Date(timeIntervalSince1970: 0)
        XCTAssertEqual(RetrySchedule.maxAttempts, 8)
        let expected: [TimeInterval] = [60, 300, 1800, 7200, 21_600, 43_200, 86_400]
        for (i, d) in expected.enumerated() {
            XCTAssertEqual(s.nextAttempt(after: i + 1, from: t0, jitter: 0)?.timeIntervalSince1970, d)
            XCTAssertEqual(s.nextAttempt(after: i + 1, from: t0, jitter: 0.1)?.timeIntervalSince1970 ?? 0, d * 1.1, accuracy: 0.001)
            XCTAssertEqual(s.nextAttempt(after: i + 1, from: t0, jitter: -0.1)?.timeIntervalSince1970 ?? 0, d * 0.9, accuracy: 0.001)
        }
        XCTAssertNil(s.nextAttempt(after: 8, from: t0), "eight attempts, then failed")
        XCTAssertEqual(RetrySchedule(scale: 0.001).nextAttempt(after: 1, from: t0, jitter: 0)?.timeIntervalSince1970 ?? 0, 0.06, accuracy: 1e-6)
    }

    func endpoint(_ now: Date) -> WebhookEndpoint {
        WebhookEndpoint(id: WebhookID(trusted: "whk_1"), workspaceID: WorkspaceID(trusted: "wsp_1"), url: "https://x.example", description: nil,
                        events: ["deal.*"], secret: "whsec_1", createdBy: nil, createdAt: now, updatedAt: now)
    }

    func delivery(_ now: Date, attempts: Int = 0) -> WebhookDelivery {
        WebhookDelivery(id: DeliveryID(trusted: "dlv_1"), workspaceID: WorkspaceID(trusted: "wsp_1"), endpointID: WebhookID(trusted: "whk_1"),
                        eventID: "evt_1", eventType: "deal.won", body: "{}", attempts: attempts, nextAttemptAt: now, createdAt: now, updatedAt: now)
    }

    func testVerdicts() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let policy = WebhookPolicy()
        let ok = TransportOutcome(statusCode: 204, snippet: "", error: nil, durationMillis: 5)
        let fail = TransportOutcome(statusCode: 500, snippet: "boom", error: nil, durationMillis: 5)
        let gone = TransportOutcome(statusCode: 410, snippet: nil, error: nil, durationMillis: 5)
        let redirect = TransportOutcome(statusCode: 301, snippet: nil, error: nil, durationMillis: 5)

        let success = AttemptVerdict.judge(delivery(now), endpoint: endpoint(now), outcome: ok, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertEqual(success.delivery.status, .succeeded)
        XCTAssertEqual(success.delivery.attempts, 1)
        XCTAssertNil(success.endpoint, "nothing to change on a healthy endpoint")
        XCTAssertTrue(success.attempt.succeeded)

        let first = AttemptVerdict.judge(delivery(now), endpoint: endpoint(now), outcome: fail, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertEqual(first.delivery.status, .pending)
        XCTAssertEqual(first.delivery.nextAttemptAt, now.addingTimeInterval(60))
        XCTAssertEqual(first.endpoint?.failingSince, now, "a failure streak starts")
        XCTAssertEqual(first.attempt.responseSnippet, "boom")

        let moved = AttemptVerdict.judge(delivery(now), endpoint: endpoint(now), outcome: redirect, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertEqual(moved.delivery.status, .pending, "redirects are not followed and count as failures")

        let last = AttemptVerdict.judge(delivery(now, attempts: 7), endpoint: endpoint(now), outcome: fail, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertEqual(last.delivery.status, .failed, "the eighth failure ends the delivery")
        XCTAssertNil(last.delivery.nextAttemptAt)

        let g = AttemptVerdict.judge(delivery(now), endpoint: endpoint(now), outcome: gone, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertEqual(g.delivery.status, .failed)
        XCTAssertEqual(g.endpoint?.status, .disabled)
        XCTAssertTrue(g.endpoint?.disabledReason?.contains("410") ?? false)

        var streaking = endpoint(now)
        streaking.failingSince = now.addingTimeInterval(-2.9 * 86_400)
        let notYet = AttemptVerdict.judge(delivery(now, attempts: 3), endpoint: streaking, outcome: fail, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertNil(notYet.endpoint, "under three days of failures the endpoint stays active")
        XCTAssertEqual(notYet.delivery.status, .pending)
        streaking.failingSince = now.addingTimeInterval(-3 * 86_400 - 1)
        let disabled = AttemptVerdict.judge(delivery(now, attempts: 3), endpoint: streaking, outcome: fail, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertEqual(disabled.endpoint?.status, .disabled)
        XCTAssertTrue(disabled.endpoint?.disabledReason?.contains("3 days") ?? false)
        XCTAssertEqual(disabled.delivery.status, .failed)

        let recovered = AttemptVerdict.judge(delivery(now), endpoint: { var e = endpoint(now); e.failingSince = now.addingTimeInterval(-100); return e }(),
                                             outcome: ok, startedAt: now, now: now, policy: policy, jitter: 0)
        XCTAssertNil(recovered.endpoint?.failingSince, "one success ends the streak")
        XCTAssertNotNil(recovered.endpoint)
    }

    func testEventPatterns() {
        XCTAssertTrue(EventPattern.matches("*", "deal.won"))
        XCTAssertTrue(EventPattern.matches("deal.*", "deal.stage_changed"))
        XCTAssertFalse(EventPattern.matches("deal.*", "dealer.created"))
        XCTAssertFalse(EventPattern.matches("deal.won", "deal.lost"))
        XCTAssertTrue(EventPattern.isValid("contact.created"))
        XCTAssertTrue(EventPattern.isValid("task.*"))
        XCTAssertFalse(EventPattern.isValid("widget.*"))
        XCTAssertFalse(EventPattern.isValid("deal.exploded"))
    }

    func testInternalAddresses() throws {
        for a in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
                  "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                  "64:ff9b::a00:1", "not an ip"] {
            XCTAssertTrue(AddressPolicy.isInternal(a), a)
        }
        for a in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            XCTAssertFalse(AddressPolicy.isInternal(a), a)
        }
        XCTAssertEqual(try WebhookURL("http://[::1]:8080/x").host, "::1")
        XCTAssertThrowsError(try WebhookURL("gopher://x"))
        XCTAssertThrowsError(try WebhookURL("https://"))
        XCTAssertThrowsError(try WebhookURL("https://user:pw@example.com/"))
    }
}
