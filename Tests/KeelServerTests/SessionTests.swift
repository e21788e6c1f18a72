import Foundation
import JWTKit
import KeelCore
import KeelServer
import KeelStorage
import Logging
import XCTest

// MARK: - Shared helpers for the identity test files
// (SessionTests, WorkspaceTests, MembersTests, InvitationsTests, APIKeysTests, AuditTests, TenantIsolationTests)

enum IdentityFixtures {
    static let password = "correct horse"
    /// The harness signs tokens with this secret (see `withApp`).
    static let harnessSecret = String(repeating: "s", count: 48)

    static func userID(_ api: API, _ token: String) async throws -> String {
        let r = try await api.get("/api/v1/users/me", token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r.data["id"] as? String ?? ""
    }

    static func members(_ api: API, _ token: String) async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/members?limit=200", token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r.items
    }

    static func member(_ api: API, _ token: String, email: String) async throws -> [String: Any]? {
        try await members(api, token).first { $0["email"] as? String == email }
    }

    static func memberID(_ api: API, _ token: String, email: String) async throws -> String {
        let m = try await member(api, token, email: email)
        XCTAssertNotNil(m, "no member with e-mail \(email)")
        return m?["id"] as? String ?? ""
    }

    static func role(_ api: API, _ token: String, email: String) async throws -> String? {
        try await member(api, token, email: email)?["role"] as? String
    }

    static func token(fromAcceptURL url: String) -> String {
        guard let range = url.range(of: "token=") else { return "" }
        return String(url[range.upperBound...])
    }

    /// Creates an invitation and returns its id and token.
    static func invite(_ api: API, _ token: String, email: String, role: String = "member") async throws -> (id: String, token: String) {
        let r = try await api.post("/api/v1/invitations", token: token, json: ["email": email, "role": role])
        XCTAssertEqual(r.code, 201, r.text)
        return (r.data["id"] as? String ?? "", self.token(fromAcceptURL: r.data["accept_url"] as? String ?? ""))
    }

    /// Creates an API key and returns its id and secret.
    static func createKey(_ api: API, _ token: String, name: String = "test key", scopes: [String]) async throws -> (id: String, secret: String) {
        let r = try await api.post("/api/v1/api-keys", token: token, json: ["name": name, "scopes": scopes])
        XCTAssertEqual(r.code, 201, r.text)
        return (r.data["id"] as? String ?? "", r.data["secret"] as? String ?? "")
    }

    static func ids(_ items: [[String: Any]]) -> [String] { items.compactMap { $0["id"] as? String } }
    static func nextCursor(_ r: TestResponse) -> String? { r.json["next_cursor"] as? String }
    static func hasMore(_ r: TestResponse) -> Bool? { r.json["has_more"] as? Bool }
    static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }
    static func q(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }

    static func detailFields(_ r: TestResponse) -> [String] { r.errorDetails.compactMap { $0["field"] as? String } }
    static func detailScopes(_ r: TestResponse) -> [String] { r.errorDetails.compactMap { $0["scope"] as? String } }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    /// An access token in the server's claim layout, signed HS256 with `secret`.
    static func forgeAccessToken(secret: String, userID: String, workspaceID: String, issuedAt: Date = Date(),
                                 expiresAt: Date) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(ForgedAccessClaims(sub: SubjectClaim(value: userID), wid: workspaceID, jti: IDClaim(value: UUID().uuidString),
                                                      iat: IssuedAtClaim(value: issuedAt), exp: ExpirationClaim(value: expiresAt)))
    }
}

struct ForgedAccessClaims: JWTPayload {
    var sub: SubjectClaim
    var wid: String
    var jti: IDClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Captures the test database's configuration so a test can read the mail outbox (there is no HTTP way to see mail).
final class DatabaseProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var captured: DatabaseConfig?

    var config: DatabaseConfig? {
        get { lock.lock(); defer { lock.unlock() }; return captured }
        set { lock.lock(); captured = newValue; lock.unlock() }
    }

    func mails(to address: String) async throws -> [MailMessage] {
        guard let config else {
            XCTFail("the database configuration was not captured")
            return []
        }
        let db = try await KeelDatabase.open(config, logger: Logger(label: "test.probe"))
        do {
            let mails = try await db.read { try await $0.mail.recent(to: address, limit: 20) }
            await db.shutdown()
            return mails
        } catch {
            await db.shutdown()
            throw error
        }
    }

    /// The token of the newest password-reset mail to `address`.
    func resetToken(for address: String) async throws -> String? {
        let mail = try await mails(to: address).first { $0.subject.lowercased().contains("reset") }
        guard let body = mail?.body, let range = body.range(of: "reset-password?token=") else { return nil }
        return String(body[range.upperBound...].prefix { !$0.isWhitespace && $0 != ")" })
    }
}

// MARK: - Sessions

final class SessionTests: XCTestCase {
    typealias F = IdentityFixtures

    static func refresh(_ api: API, _ token: String) async throws -> TestResponse {
        try await api.post("/api/v1/auth/refresh", json: ["refresh_token": token])
    }

    func testRefreshRotatesAndTheNewTokensWork() async throws {
        try await withApp { api, _ in
            let s0 = try await api.signup()
            let r1 = try await SessionTests.refresh(api, s0.refreshToken)
            XCTAssertEqual(r1.code, 200, r1.text)
            let s1 = Session(r1)
            XCTAssertTrue(s1.refreshToken.hasPrefix("rt_"), r1.text)
            XCTAssertNotEqual(s1.refreshToken, s0.refreshToken)
            XCTAssertNotEqual(s1.accessToken, s0.accessToken)
            XCTAssertEqual(r1.data["token_type"] as? String, "Bearer")
            XCTAssertEqual(r1.data["expires_in"] as? Int, 900)
            XCTAssertEqual(s1.workspaceID, s0.workspaceID)
            XCTAssertEqual((r1.data["workspace"] as? [String: Any])?["role"] as? String, "owner")

            let me = try await api.get("/api/v1/users/me", token: s1.accessToken)
            XCTAssertEqual(me.code, 200, me.text)

            let r2 = try await SessionTests.refresh(api, s1.refreshToken)
            XCTAssertEqual(r2.code, 200, r2.text)
            XCTAssertNotEqual(Session(r2).refreshToken, s1.refreshToken)
        }
    }

    func testReusedRefreshTokenRevokesTheWholeFamily() async throws {
        try await withApp { api, _ in
            let s0 = try await api.signup()
            // An unrelated session (its own family) must survive the reuse in the other family.
            let other = Session(try await api.login(email: "owner@example.com"))
            XCTAssertFalse(other.refreshToken.isEmpty)

            let s1 = Session(try await SessionTests.refresh(api, s0.refreshToken))
            let r2 = try await SessionTests.refresh(api, s1.refreshToken)
            XCTAssertEqual(r2.code, 200, r2.text)
            let s2 = Session(r2)

            // The first token was rotated already: presenting it again is theft, 401...
            let reuse = try await SessionTests.refresh(api, s0.refreshToken)
            XCTAssertEqual(reuse.code, 401, reuse.text)
            XCTAssertEqual(reuse.errorCode, "unauthenticated")
            XCTAssertTrue(reuse.data.isEmpty, "a reused token must not yield tokens")
            // ...and the newest token of that family is dead too.
            let newest = try await SessionTests.refresh(api, s2.refreshToken)
            XCTAssertEqual(newest.code, 401, newest.text)
            XCTAssertEqual(newest.errorCode, "unauthenticated")
            // The other family is untouched.
            let unrelated = try await SessionTests.refresh(api, other.refreshToken)
            XCTAssertEqual(unrelated.code, 200, unrelated.text)
        }
    }

    func testRefreshRejectsGarbageAndMissingToken() async throws {
        try await withApp { api, _ in
            _ = try await api.signup()
            let bogus = try await SessionTests.refresh(api, "rt_not-a-real-token")
            XCTAssertEqual(bogus.code, 401, bogus.text)
            XCTAssertEqual(bogus.errorCode, "unauthenticated")
            let missing = try await api.post("/api/v1/auth/refresh", json: [String: Any]())
            XCTAssertEqual(missing.code, 422, missing.text)
            XCTAssertEqual(missing.errorCode, "validation_failed")
        }
    }

    func testLogoutKillsAccessTokenAndAllRefreshTokens() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let second = Session(try await api.login(email: "owner@example.com"))
            // Warm any credential cache first, so the test proves logout clears it.
            let before = try await api.get("/api/v1/members", token: s.accessToken)
            XCTAssertEqual(before.code, 200, before.text)

            let out = try await api.post("/api/v1/auth/logout", token: s.accessToken)
            XCTAssertEqual(out.code, 204, out.text)
            XCTAssertTrue(out.text.isEmpty)

            let after = try await api.get("/api/v1/members", token: s.accessToken)
            XCTAssertEqual(after.code, 401, after.text)
            XCTAssertEqual(after.errorCode, "unauthenticated")
            let me = try await api.get("/api/v1/users/me", token: s.accessToken)
            XCTAssertEqual(me.code, 401, me.text)

            // Every refresh token of the user is revoked, including the other session's.
            let r1 = try await SessionTests.refresh(api, s.refreshToken)
            XCTAssertEqual(r1.code, 401, r1.text)
            let r2 = try await SessionTests.refresh(api, second.refreshToken)
            XCTAssertEqual(r2.code, 401, r2.text)

            // Logging out again with the dead token is 401, and logging in again works.
            let again = try await api.post("/api/v1/auth/logout", token: s.accessToken)
            XCTAssertEqual(again.code, 401, again.text)
            let login = try await api.login(email: "owner@example.com")
            XCTAssertEqual(login.code, 200, login.text)
        }
    }

    func testLogoutNeedsAToken() async throws {
        try await withApp { api, _ in
            _ = try await api.signup()
            let r = try await api.post("/api/v1/auth/logout")
            XCTAssertEqual(r.code, 401, r.text)
            XCTAssertEqual(r.errorCode, "unauthenticated")
        }
    }

    func testRevokeKillsTheRefreshToken() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let revoke = try await api.post("/api/v1/auth/revoke", json: ["refresh_token": s.refreshToken])
            XCTAssertEqual(revoke.code, 204, revoke.text)
            XCTAssertTrue(revoke.text.isEmpty)
            let r = try await SessionTests.refresh(api, s.refreshToken)
            XCTAssertEqual(r.code, 401, r.text)
            XCTAssertEqual(r.errorCode, "unauthenticated")
            // Revoking an unknown token is also 204 (nothing to reveal).
            let unknown = try await api.post("/api/v1/auth/revoke", json: ["refresh_token": "rt_unknown"])
            XCTAssertEqual(unknown.code, 204, unknown.text)
            let missing = try await api.post("/api/v1/auth/revoke", json: ["token": s.refreshToken])
            XCTAssertEqual(missing.code, 422, missing.text)
        }
    }

    func testRevokeKillsRotatedDescendants() async throws {
        try await withApp { api, _ in
            let s0 = try await api.signup()
            let s1 = Session(try await SessionTests.refresh(api, s0.refreshToken))
            XCTAssertFalse(s1.refreshToken.isEmpty)
            let revoke = try await api.post("/api/v1/auth/revoke", json: ["refresh_token": s1.refreshToken])
            XCTAssertEqual(revoke.code, 204, revoke.text)
            let r = try await SessionTests.refresh(api, s1.refreshToken)
            XCTAssertEqual(r.code, 401, r.text)
        }
    }

    func testWrongPasswordAndUnknownEmailLookIdentical() async throws {
        try await withApp { api, _ in
            _ = try await api.signup()
            let wrong = try await api.login(email: "owner@example.com", password: "wrong password")
            let unknown = try await api.login(email: "nobody@example.com", password: "wrong password")
            XCTAssertEqual(wrong.code, 401, wrong.text)
            XCTAssertEqual(unknown.code, 401, unknown.text)
            XCTAssertEqual(wrong.errorCode, "unauthenticated")
            XCTAssertEqual(wrong.errorCode, unknown.errorCode)
            let wrongMessage = (wrong.json["error"] as? [String: Any])?["message"] as? String
            let unknownMessage = (unknown.json["error"] as? [String: Any])?["message"] as? String
            XCTAssertNotNil(wrongMessage)
            XCTAssertEqual(wrongMessage, unknownMessage)
            XCTAssertEqual(wrong.errorDetails.count, unknown.errorDetails.count)
            XCTAssertNil(wrong.data["access_token"])
        }
    }

    func testLoginValidation() async throws {
        try await withApp { api, _ in
            _ = try await api.signup()
            let unknownField = try await api.post("/api/v1/auth/login", json: ["email": "owner@example.com", "password": F.password, "remember": true])
            XCTAssertEqual(unknownField.code, 422, unknownField.text)
            XCTAssertEqual(unknownField.errorCode, "validation_failed")
            let malformed = try await api.send(.post, "/api/v1/auth/login", raw: "{\"email\": ")
            XCTAssertEqual(malformed.code, 400, malformed.text)
            XCTAssertEqual(malformed.errorCode, "bad_request")
        }
    }

    func testForgedAndExpiredAccessTokensAre401() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let userID = try await F.userID(api, s.accessToken)

            // Sanity: a token in the server's own layout, signed with the server's secret, is accepted,
            // so the failures below are due to the forgery and nothing else.
            let genuine = try await F.forgeAccessToken(secret: F.harnessSecret, userID: userID, workspaceID: s.workspaceID,
                                                       expiresAt: Date().addingTimeInterval(600))
            let ok = try await api.get("/api/v1/users/me", token: genuine)
            XCTAssertEqual(ok.code, 200, ok.text)

            func assert401(_ token: String, _ label: String, line: UInt = #line) async throws {
                let r = try await api.get("/api/v1/users/me", token: token)
                XCTAssertEqual(r.code, 401, "\(label): \(r.text)", line: line)
                XCTAssertEqual(r.errorCode, "unauthenticated", label, line: line)
                let m = try await api.get("/api/v1/members", token: token)
                XCTAssertEqual(m.code, 401, "\(label) on /members: \(m.text)", line: line)
            }

            // One character of the signature changed (a leading character, so every bit of it counts).
            let parts = s.accessToken.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(parts.count, 3)
            var sig = Array(parts[2])
            sig[0] = sig[0] == "A" ? "B" : "A"
            try await assert401([parts[0], parts[1], String(sig)].joined(separator: "."), "tampered signature")

            // The payload changed (another workspace id) while keeping the original signature.
            let other = try await api.post("/api/v1/workspaces", token: s.accessToken, json: ["name": "Other"])
            XCTAssertEqual(other.code, 201, other.text)
            let payloadJSON = try JSONSerialization.jsonObject(with: F.decodeBase64URL(parts[1]) ?? Data()) as? [String: Any] ?? [:]
            var tamperedPayload = payloadJSON
            tamperedPayload["wid"] = other.data["id"] as? String ?? ""
            let payloadB64 = F.base64URL(try JSONSerialization.data(withJSONObject: tamperedPayload))
            try await assert401([parts[0], payloadB64, parts[2]].joined(separator: "."), "tampered payload")

            // alg: none, with and without the trailing separator.
            let noneHeader = F.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
            try await assert401("\(noneHeader).\(parts[1]).", "alg none")
            try await assert401("\(noneHeader).\(parts[1])", "alg none without signature part")

            // Signed with another secret.
            let foreign = try await F.forgeAccessToken(secret: String(repeating: "x", count: 48), userID: userID, workspaceID: s.workspaceID,
                                                       expiresAt: Date().addingTimeInterval(600))
            try await assert401(foreign, "foreign secret")

            // Expired, signed with the right secret.
            let expired = try await F.forgeAccessToken(secret: F.harnessSecret, userID: userID, workspaceID: s.workspaceID,
                                                       issuedAt: Date().addingTimeInterval(-3600), expiresAt: Date().addingTimeInterval(-1800))
            try await assert401(expired, "expired")

            // Right secret, but for a workspace the user does not belong to.
            let stranger = try await F.forgeAccessToken(secret: F.harnessSecret, userID: userID, workspaceID: WorkspaceID.generate().rawValue,
                                                        expiresAt: Date().addingTimeInterval(600))
            try await assert401(stranger, "foreign workspace")

            try await assert401("not-a-jwt", "garbage")
            let basic = try await api.send(.get, "/api/v1/users/me", headers: ["Authorization": "Basic b3duZXI6cGFzcw=="])
            XCTAssertEqual(basic.code, 401, basic.text)
            let none = try await api.get("/api/v1/users/me")
            XCTAssertEqual(none.code, 401, none.text)
            XCTAssertEqual(none.errorCode, "unauthenticated")
        }
    }

    func testDuplicateSignupEmailIs409() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            _ = try await api.signup(email: "owner@example.com")
            let dup = try await api.post("/api/v1/auth/signup", json: ["email": "  OWNER@Example.com ", "password": "another password",
                                                                      "name": "Impostor", "workspace_name": "Evil"])
            XCTAssertEqual(dup.code, 409, dup.text)
            XCTAssertEqual(dup.errorCode, "duplicate")
            XCTAssertTrue(F.detailFields(dup).contains("email"), dup.text)
            // Nothing changed: the original password still works, the impostor's does not.
            let original = try await api.login(email: "owner@example.com")
            XCTAssertEqual(original.code, 200, original.text)
            XCTAssertEqual((original.data["workspace"] as? [String: Any])?["name"] as? String, "Acme")
            let impostor = try await api.login(email: "owner@example.com", password: "another password")
            XCTAssertEqual(impostor.code, 401, impostor.text)
            // The user still has exactly one workspace.
            let mine = try await api.get("/api/v1/workspaces", token: Session(original).accessToken)
            XCTAssertEqual(mine.items.count, 1, mine.text)
        }
    }

    func testOpenSignupCreatesSeparateWorkspaces() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await api.signup(email: "a@example.com", workspace: "Alpha")
            let b = try await api.signup(email: "b@example.com", workspace: "Beta")
            XCTAssertNotEqual(a.workspaceID, b.workspaceID)
            let members = try await F.members(api, b.accessToken)
            XCTAssertEqual(members.compactMap { $0["email"] as? String }, ["b@example.com"])
        }
    }

    func testSecondSignupIsForbiddenWhenClosed() async throws {
        try await withApp { api, _ in
            _ = try await api.signup()
            let second = try await api.post("/api/v1/auth/signup", json: ["email": "second@example.com", "password": F.password,
                                                                         "name": "Second", "workspace_name": "Second Co"])
            XCTAssertEqual(second.code, 403, second.text)
            XCTAssertEqual(second.errorCode, "forbidden")
            // No account was created.
            let login = try await api.login(email: "second@example.com")
            XCTAssertEqual(login.code, 401, login.text)
        }
    }

    func testSignupValidation() async throws {
        try await withApp { api, _ in
            let bad = try await api.post("/api/v1/auth/signup", json: ["email": "not-an-email", "password": "short", "name": "",
                                                                      "workspace_name": "Acme"])
            XCTAssertEqual(bad.code, 422, bad.text)
            XCTAssertEqual(bad.errorCode, "validation_failed")
            let fields = Set(F.detailFields(bad))
            XCTAssertTrue(fields.isSuperset(of: ["email", "password", "name"]), bad.text)
            // The failed attempt created nothing, so the first real sign-up is still allowed.
            let ok = try await api.post("/api/v1/auth/signup", json: ["email": "owner@example.com", "password": F.password, "name": "Owner",
                                                                     "workspace_name": "Acme"])
            XCTAssertEqual(ok.code, 201, ok.text)
            XCTAssertEqual(ok.header("Location").map { $0.hasSuffix("/users/me") }, true)
        }
    }

    func testPasswordResetRoundTrip() async throws {
        let probe = DatabaseProbe()
        try await withApp({ probe.config = $0.database }) { api, _ in
            let s = try await api.signup()
            let unknown = try await api.post("/api/v1/auth/password-reset/request", json: ["email": "nobody@example.com"])
            XCTAssertEqual(unknown.code, 204, unknown.text)
            let unknownMail = try await probe.mails(to: "nobody@example.com")
            XCTAssertTrue(unknownMail.isEmpty, "no mail may be sent for an unknown address")
            let malformed = try await api.post("/api/v1/auth/password-reset/request", json: ["email": "not an email"])
            XCTAssertEqual(malformed.code, 204, malformed.text)

            let request = try await api.post("/api/v1/auth/password-reset/request", json: ["email": " Owner@Example.com"])
            XCTAssertEqual(request.code, 204, request.text)
            XCTAssertTrue(request.text.isEmpty)
            guard let token = try await probe.resetToken(for: "owner@example.com"), !token.isEmpty else {
                XCTFail("no reset mail in the outbox")
                return
            }

            // Bad input first: a bogus token and a too-short password change nothing.
            let bogus = try await api.post("/api/v1/auth/password-reset/confirm", json: ["token": "bogus", "new_password": "brand new password"])
            XCTAssertEqual(bogus.code, 422, bogus.text)
            XCTAssertEqual(bogus.errorCode, "validation_failed")
            let short = try await api.post("/api/v1/auth/password-reset/confirm", json: ["token": token, "new_password": "short"])
            XCTAssertEqual(short.code, 422, short.text)
            XCTAssertTrue(F.detailFields(short).contains("new_password"), short.text)
            let stillOld = try await api.login(email: "owner@example.com")
            XCTAssertEqual(stillOld.code, 200, "a rejected confirm must not change the password: \(stillOld.text)")
            let fresh = Session(stillOld)

            let confirm = try await api.post("/api/v1/auth/password-reset/confirm", json: ["token": token, "new_password": "brand new password"])
            XCTAssertEqual(confirm.code, 204, confirm.text)

            let old = try await api.login(email: "owner@example.com")
            XCTAssertEqual(old.code, 401, old.text)
            let new = try await api.login(email: "owner@example.com", password: "brand new password")
            XCTAssertEqual(new.code, 200, new.text)
            let newSession = Session(new)
            let newMe = try await api.get("/api/v1/users/me", token: newSession.accessToken)
            XCTAssertEqual(newMe.code, 200, "a token issued after the reset must work: \(newMe.text)")

            // Single use.
            let reuse = try await api.post("/api/v1/auth/password-reset/confirm", json: ["token": token, "new_password": "third password!"])
            XCTAssertEqual(reuse.code, 422, reuse.text)
            let third = try await api.login(email: "owner@example.com", password: "third password!")
            XCTAssertEqual(third.code, 401, third.text)

            // Sessions from before the reset are revoked.
            let oldAccess = try await api.get("/api/v1/users/me", token: s.accessToken)
            XCTAssertEqual(oldAccess.code, 401, oldAccess.text)
            let oldRefresh = try await SessionTests.refresh(api, fresh.refreshToken)
            XCTAssertEqual(oldRefresh.code, 401, oldRefresh.text)
        }
    }

    func testSwitchWorkspace() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let s = try await api.signup()
            let created = try await api.post("/api/v1/workspaces", token: s.accessToken, json: ["name": "Second"])
            XCTAssertEqual(created.code, 201, created.text)
            let secondID = created.data["id"] as? String ?? ""
            XCTAssertTrue(secondID.hasPrefix("wsp_"), created.text)
            XCTAssertEqual(created.data["role"] as? String, "owner")

            let sw = try await api.post("/api/v1/auth/switch-workspace", token: s.accessToken, json: ["workspace_id": secondID])
            XCTAssertEqual(sw.code, 200, sw.text)
            let s2 = Session(sw)
            XCTAssertEqual(s2.workspaceID, secondID)
            XCTAssertTrue(s2.refreshToken.hasPrefix("rt_"))
            XCTAssertEqual(sw.data["token_type"] as? String, "Bearer")
            let ws = try await api.get("/api/v1/workspace", token: s2.accessToken)
            XCTAssertEqual(ws.code, 200, ws.text)
            XCTAssertEqual(ws.data["name"] as? String, "Second")
            XCTAssertEqual(ws.data["id"] as? String, secondID)
            // The original token still addresses the first workspace.
            let first = try await api.get("/api/v1/workspace", token: s.accessToken)
            XCTAssertEqual(first.data["id"] as? String, s.workspaceID)

            // Login without workspace_id lands in the last used workspace; with it, in the one named.
            let login = try await api.login(email: "owner@example.com")
            XCTAssertEqual(Session(login).workspaceID, secondID, login.text)
            let loginFirst = try await api.login(email: "owner@example.com", workspaceID: s.workspaceID)
            XCTAssertEqual(Session(loginFirst).workspaceID, s.workspaceID, loginFirst.text)

            // A workspace the caller does not belong to, and a malformed id.
            let stranger = try await api.signup(email: "stranger@example.com", workspace: "Elsewhere")
            let foreign = try await api.post("/api/v1/auth/switch-workspace", token: s.accessToken, json: ["workspace_id": stranger.workspaceID])
            XCTAssertEqual(foreign.code, 422, foreign.text)
            XCTAssertEqual(foreign.errorCode, "validation_failed")
            XCTAssertTrue(F.detailFields(foreign).contains("workspace_id"), foreign.text)
            XCTAssertNil(foreign.data["access_token"])
            let malformed = try await api.post("/api/v1/auth/switch-workspace", token: s.accessToken, json: ["workspace_id": "nope"])
            XCTAssertEqual(malformed.code, 422, malformed.text)
            let loginForeign = try await api.login(email: "owner@example.com", workspaceID: stranger.workspaceID)
            XCTAssertEqual(loginForeign.code, 422, loginForeign.text)
        }
    }
}
