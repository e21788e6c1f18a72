import Foundation
import HummingbirdTesting
import KeelServer
import XCTest

final class BootstrapTests: XCTestCase {
    func testFirstRunPrintsBannerOnceAndTheKeyWorks() async throws {
        let (dbConfig, cleanup) = try await TestDatabase.make()
        var config = KeelConfig()
        config.database = dbConfig
        config.bcryptCost = 4
        config.workers = false
        config.adminEmail = "boss@example.com"
        config.logLevel = .warning
        let first = Announcements()
        do {
            let app = try await KeelServer.buildApplication(config, announce: { first.add($0) })
            try await app.test(.router) { client in
                let api = API(client: client)
                XCTAssertEqual(first.all.count, 1)
                let banner = first.all.joined()
                XCTAssertTrue(banner.contains("boss@example.com"))
                let key = try XCTUnwrap(banner.split(separator: " ").first { $0.hasPrefix("keel_live_") }).trimmingCharacters(in: .whitespacesAndNewlines)
                let ws = try await api.get("/api/v1/workspace", token: key)
                XCTAssertEqual(ws.code, 200, ws.text)
                let password = try XCTUnwrap(banner.components(separatedBy: "Password  : ").last?.split(separator: "\n").first).trimmingCharacters(in: .whitespaces)
                let awaited1 = try await api.login(email: "boss@example.com", password: password).code
                XCTAssertEqual(awaited1, 200)
            }
            let second = Announcements()
            let again = try await KeelServer.buildApplication(config, announce: { second.add($0) })
            try await again.test(.router) { _ in }
            XCTAssertTrue(second.all.isEmpty, "later starts print nothing secret")
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }

    func testMalformedSettingsAreNamed() {
        for (key, value) in [("KEEL_PORT", "eighty"), ("KEEL_DATABASE_URL", "mysql://x"), ("KEEL_LOG_LEVEL", "loud"), ("KEEL_WORKERS", "maybe"),
                             ("KEEL_RATE_LIMIT_RPS", "-1"), ("KEEL_JWT_SECRET", "short"), ("KEEL_ADMIN_EMAIL", "nope")] {
            XCTAssertThrowsError(try KeelConfig.fromEnvironment([key: value])) { error in
                XCTAssertTrue(String(describing: error).contains(key), "\(error)")
                XCTAssertFalse(String(describing: error).contains("\n"))
            }
        }
        XCTAssertNoThrow(try KeelConfig.fromEnvironment(["KEEL_PORT": "9000", "KEEL_DATABASE_URL": "postgres://u:p@localhost/db"]))
    }
}
