import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeelServer
import KeelStorage
import Logging
import NIOCore
import XCTest

/// One request a test receiver got.
struct ReceivedRequest: Sendable {
    let headers: [String: String]
    let body: String
    let at: Date

    var eventID: String { headers["keel-event-id"] ?? "" }
    var eventType: String { headers["keel-event-type"] ?? "" }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
}

/// What the receiver answers to its n-th request (0-based).
struct ReceiverReply: Sendable {
    var status: HTTPResponse.Status = .ok
    var body = "ok"
    /// Wait this long before answering (a slow or timing-out receiver).
    var delay: Duration = .zero
    /// Hold the answer until the test calls `release()` (or `delay` passes, whichever is first).
    var holdUntilReleased = false
}

actor ReceiverLog {
    private(set) var requests: [ReceivedRequest] = []
    private(set) var answered = 0
    private(set) var released = false

    func record(_ r: ReceivedRequest) -> Int {
        requests.append(r)
        return requests.count - 1
    }
    func markAnswered() { answered += 1 }
    func release() { released = true }
}

/// A real HTTP server on a loopback port, for webhook deliveries.
func withReceiver(_ reply: @escaping @Sendable (Int) -> ReceiverReply = { _ in ReceiverReply() },
                  _ body: @escaping @Sendable (_ url: String, _ log: ReceiverLog) async throws -> Void) async throws {
    let log = ReceiverLog()
    let router = Router()
    router.post("/hook") { request, _ -> Response in
        let buffer = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let n = await log.record(ReceivedRequest(headers: headers, body: String(buffer: buffer), at: Date()))
        let r = reply(n)
        if r.holdUntilReleased {
            let deadline = ContinuousClock.now + r.delay
            while ContinuousClock.now < deadline, !(await log.released) { try await Task.sleep(for: .milliseconds(20)) }
        } else if r.delay > .zero {
            try await Task.sleep(for: r.delay)
        }
        await log.markAnswered()
        return Response(status: r.status, body: ResponseBody(byteBuffer: ByteBuffer(string: r.body)))
    }
    var logger = Logger(label: "receiver")
    logger.logLevel = .critical
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
    try await app.test(.live) { client in
        let port = try XCTUnwrap(client.port)
        try await body("http://127.0.0.1:\(port)/hook", log)
    }
}

/// Polls `condition` until it holds or `timeout` passes (eventual consistency of background workers, not a speed check).
func eventually(_ what: String, timeout: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line,
                _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    XCTFail("timed out waiting for: \(what)", file: file, line: line)
    throw CancellationError()
}

/// Config for tests that run the background workers: fast polling, a scaled-down retry schedule, private receivers allowed.
func workersOn(_ c: inout KeelConfig) {
    c.workers = true
    c.workerPollMillis = 20
    c.webhooksAllowPrivate = true
    c.webhookRetryScale = 0.0005
    c.webhookTimeoutMillis = 2000
    c.schedulerIntervalSeconds = 1
    c.purgeIntervalSeconds = 1
}

/// Like `withApp`, plus a second handle on the same database (to age rows the API cannot backdate).
func withAppAndDatabase(_ tweak: (inout KeelConfig) -> Void = { _ in },
                        _ body: @escaping @Sendable (API, KeelDatabase) async throws -> Void) async throws {
    let (dbConfig, cleanup) = try await TestDatabase.make()
    let config = testConfig(dbConfig, tweak)
    do {
        let app = try await KeelServer.buildApplication(config, announce: { _ in })
        let side = try await KeelDatabase.open(dbConfig, logger: Logger(label: "test-side"))
        do {
            try await app.test(.router) { client in try await body(API(client: client), side) }
        } catch {
            await side.shutdown()
            throw error
        }
        await side.shutdown()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
}

/// Two `keel serve` applications (both running workers) on one database, as a scaled-out deployment runs them.
func withTwoInstances(_ tweak: @escaping @Sendable (inout KeelConfig) -> Void,
                      _ body: @escaping @Sendable (API, API) async throws -> Void) async throws {
    let (dbConfig, cleanup) = try await TestDatabase.make()
    do {
        let first = try await KeelServer.buildApplication(testConfig(dbConfig, tweak), announce: { _ in })
        let second = try await KeelServer.buildApplication(testConfig(dbConfig, tweak), announce: { _ in })
        try await first.test(.router) { a in
            try await second.test(.router) { b in
                try await body(API(client: a), API(client: b))
            }
        }
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
}
