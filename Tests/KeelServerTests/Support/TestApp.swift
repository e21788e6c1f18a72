import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeelServer
import KeelStorage
import Logging
import NIOCore
import XCTest

/// A fresh database per test: a temporary SQLite file, or (with `KEEL_TEST_DATABASE_URL=postgres://...`) a fresh schema.
enum TestDatabase {
    static var postgresURL: String? {
        guard let url = ProcessInfo.processInfo.environment["KEEL_TEST_DATABASE_URL"], url.hasPrefix("postgres") else { return nil }
        return url
    }

    static func make() async throws -> (DatabaseConfig, @Sendable () async -> Void) {
        if let url = postgresURL {
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let admin = try await KeelDatabase.open(.postgres(url: url, poolSize: 2, searchPath: nil), logger: Logger(label: "test"))
            try await admin.withSQL { db in try await db.raw("CREATE SCHEMA \(ident: String(schema))").run() }
            await admin.shutdown()
            let config = DatabaseConfig.postgres(url: url, poolSize: 8, searchPath: String(schema))
            return (config, {
                guard let admin = try? await KeelDatabase.open(.postgres(url: url, poolSize: 2, searchPath: nil), logger: Logger(label: "test")) else { return }
                try? await admin.withSQL { db in try await db.raw("DROP SCHEMA \(ident: String(schema)) CASCADE").run() }
                await admin.shutdown()
            })
        }
        let path = NSTemporaryDirectory() + "keel-test-\(UUID().uuidString).sqlite"
        return (.sqlite(path: path, readers: 2), {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        })
    }
}

/// Captures what the server announces (the first-run banner).
final class Announcements: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

struct TestResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }
    var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["data"] as? [[String: Any]] ?? [] }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorDetails: [[String: Any]] { (json["error"] as? [String: Any])?["details"] as? [[String: Any]] ?? [] }
    var code: Int { status.code }
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

struct API: Sendable {
    let client: any TestClientProtocol

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: Any? = nil, raw: String? = nil,
              contentType: String? = "application/json", headers extra: [String: String] = [:]) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed])
            body = ByteBuffer(bytes: data)
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        if body != nil, let contentType { headers[.contentType] = contentType }
        for (k, v) in extra { if let n = HTTPField.Name(k) { headers[n] = v } }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        return TestResponse(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    func get(_ path: String, token: String? = nil) async throws -> TestResponse { try await send(.get, path, token: token) }
    func post(_ path: String, token: String? = nil, json: Any? = nil, headers: [String: String] = [:]) async throws -> TestResponse {
        try await send(.post, path, token: token, json: json ?? [String: Any](), headers: headers)
    }
    func patch(_ path: String, token: String? = nil, json: Any, headers: [String: String] = [:]) async throws -> TestResponse {
        try await send(.patch, path, token: token, json: json, headers: headers)
    }
    func delete(_ path: String, token: String? = nil, headers: [String: String] = [:]) async throws -> TestResponse {
        try await send(.delete, path, token: token, headers: headers)
    }

    /// Signs up (first user, or open sign-up) and returns the access token and workspace id.
    func signup(email: String = "owner@example.com", password: String = "correct horse", workspace: String = "Acme") async throws -> Session {
        let r = try await post("/api/v1/auth/signup", json: ["email": email, "password": password, "name": "Owner", "workspace_name": workspace])
        XCTAssertEqual(r.code, 201, r.text)
        return Session(r)
    }

    func login(email: String, password: String = "correct horse", workspaceID: String? = nil) async throws -> TestResponse {
        var body: [String: Any] = ["email": email, "password": password]
        if let workspaceID { body["workspace_id"] = workspaceID }
        return try await post("/api/v1/auth/login", json: body)
    }

    func createKey(_ token: String, scopes: [String] = ["*"], name: String = "test key") async throws -> String {
        let r = try await post("/api/v1/api-keys", token: token, json: ["name": name, "scopes": scopes])
        XCTAssertEqual(r.code, 201, r.text)
        return r.data["secret"] as? String ?? ""
    }

    /// Invites `email` with `role` and accepts as a new user; returns that user's session.
    func addMember(_ adminToken: String, email: String, role: String) async throws -> Session {
        let inv = try await post("/api/v1/invitations", token: adminToken, json: ["email": email, "role": role])
        XCTAssertEqual(inv.code, 201, inv.text)
        let url = inv.data["accept_url"] as? String ?? ""
        let token = String(url.split(separator: "=", maxSplits: 1).last ?? "")
        let acc = try await post("/api/v1/invitations/accept", json: ["token": token, "name": "Member", "password": "correct horse"])
        XCTAssertEqual(acc.code, 200, acc.text)
        return Session(acc)
    }
}

struct Session: Sendable {
    let accessToken: String
    let refreshToken: String
    let workspaceID: String

    init(_ r: TestResponse) {
        accessToken = r.data["access_token"] as? String ?? ""
        refreshToken = r.data["refresh_token"] as? String ?? ""
        workspaceID = (r.data["workspace"] as? [String: Any])?["id"] as? String ?? ""
    }
}

/// The settings every test app starts from: cheap bcrypt, no bootstrap, no workers, no rate limits, quiet logs.
func testConfig(_ dbConfig: DatabaseConfig, _ tweak: (inout KeelConfig) -> Void = { _ in }) -> KeelConfig {
    var config = KeelConfig()
    config.database = dbConfig
    config.bcryptCost = 4
    config.bootstrap = false
    config.workers = false
    config.rateLimitRPS = 0
    config.rateLimitBurst = 0
    config.logLevel = .warning
    config.jwtSecret = String(repeating: "s", count: 48)
    tweak(&config)
    return config
}

/// Builds the real application on a fresh database and runs `body` against it through the router.
func withApp(_ tweak: (inout KeelConfig) -> Void = { _ in }, _ body: @escaping @Sendable (API, Announcements) async throws -> Void) async throws {
    let (dbConfig, cleanup) = try await TestDatabase.make()
    let config = testConfig(dbConfig, tweak)
    let announcements = Announcements()
    do {
        let app = try await KeelServer.buildApplication(config, announce: { announcements.add($0) })
        try await app.test(.router) { client in
            try await body(API(client: client), announcements)
        }
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
}
