import Foundation
import KeelCore
import XCTest

final class AuditTests: XCTestCase {
    typealias F = IdentityFixtures

    static func logs(_ api: API, _ token: String, _ query: String = "") async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/audit/logs?limit=200" + (query.isEmpty ? "" : "&" + query), token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r.items
    }

    static func actor(_ entry: [String: Any]) -> (type: String?, id: String?) {
        let a = entry["actor"] as? [String: Any] ?? [:]
        return (a["type"] as? String, a["id"] as? String)
    }

    func testLoginAndFailedLoginAreAudited() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let userID = try await F.userID(api, owner.accessToken)
            let login = try await api.login(email: "owner@example.com")
            XCTAssertEqual(login.code, 200, login.text)
            let failed = try await api.login(email: "owner@example.com", password: "wrong password")
            XCTAssertEqual(failed.code, 401, failed.text)

            let logins = try await AuditTests.logs(api, owner.accessToken, "action=auth.login")
            XCTAssertEqual(logins.count, 1, "\(logins)")
            XCTAssertEqual(logins.first?["action"] as? String, "auth.login")
            XCTAssertEqual(AuditTests.actor(logins.first ?? [:]).type, "user")
            XCTAssertEqual(AuditTests.actor(logins.first ?? [:]).id, userID)
            XCTAssertEqual(logins.first?["object_type"] as? String, "user")
            XCTAssertEqual(logins.first?["object_id"] as? String, userID)
            XCTAssertTrue((logins.first?["id"] as? String)?.hasPrefix("aud_") == true)
            XCTAssertNotNil(logins.first?["created_at"] as? String)

            let failures = try await AuditTests.logs(api, owner.accessToken, "action=auth.login_failed")
            XCTAssertEqual(failures.count, 1, "\(failures)")
            XCTAssertEqual(failures.first?["object_id"] as? String, userID)
            XCTAssertFalse(String(describing: failures).contains("wrong password"), "the attempted password must never be stored")
        }
    }

    func testKeyLifecycleIsAudited() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, name: "audited", scopes: ["members:read"])
            let revoke = try await api.delete("/api/v1/api-keys/\(key.id)", token: owner.accessToken)
            XCTAssertEqual(revoke.code, 204, revoke.text)

            let created = try await AuditTests.logs(api, owner.accessToken, "action=api_key.created&object_id=\(key.id)")
            XCTAssertEqual(created.count, 1, "\(created)")
            XCTAssertEqual(created.first?["object_type"] as? String, "api_key")
            XCTAssertFalse(String(describing: created).contains(key.secret), "the secret must never reach the audit log")
            let revoked = try await AuditTests.logs(api, owner.accessToken, "action=api_key.revoked")
            XCTAssertEqual(revoked.first?["object_id"] as? String, key.id, "\(revoked)")

            let byObject = try await AuditTests.logs(api, owner.accessToken, "object_type=api_key&object_id=\(key.id)")
            XCTAssertEqual(Set(byObject.compactMap { $0["action"] as? String }), ["api_key.created", "api_key.revoked"])
            let all = try await api.get("/api/v1/audit/logs", token: owner.accessToken)
            XCTAssertFalse(all.text.contains(key.secret))
        }
    }

    func testRoleChangeAndInvitationAreAudited() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let ownerUser = try await F.userID(api, owner.accessToken)
            _ = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            let memberID = try await F.memberID(api, owner.accessToken, email: "member@example.com")
            let patch = try await api.patch("/api/v1/members/\(memberID)", token: owner.accessToken, json: ["role": "viewer"])
            XCTAssertEqual(patch.code, 200, patch.text)
            let inv = try await F.invite(api, owner.accessToken, email: "invitee@example.com", role: "admin")

            let roleChanges = try await AuditTests.logs(api, owner.accessToken, "object_type=member&object_id=\(memberID)")
            let change = roleChanges.first { $0["action"] as? String == "member.role_changed" }
            XCTAssertNotNil(change, "\(roleChanges)")
            XCTAssertEqual(AuditTests.actor(change ?? [:]).id, ownerUser)
            let diff = (change?["changes"] as? [String: Any])?["role"] as? [String: Any]
            XCTAssertEqual(diff?["old"] as? String, "member")
            XCTAssertEqual(diff?["new"] as? String, "viewer")

            let invites = try await AuditTests.logs(api, owner.accessToken, "action=invitation.created&object_id=\(inv.id)")
            XCTAssertEqual(invites.count, 1, "\(invites)")
            XCTAssertEqual(invites.first?["object_type"] as? String, "invitation")
            XCTAssertFalse(String(describing: invites).contains(inv.token), "invitation tokens must not be audited")

            // actor_id narrows to one actor.
            let mine = try await AuditTests.logs(api, owner.accessToken, "actor_id=\(ownerUser)")
            XCTAssertFalse(mine.isEmpty)
            for e in mine { XCTAssertEqual(AuditTests.actor(e).id, ownerUser, "\(e)") }
            let actions = Set(mine.compactMap { $0["action"] as? String })
            XCTAssertTrue(actions.isSuperset(of: ["member.role_changed", "invitation.created"]), "\(actions)")
            let nobody = try await AuditTests.logs(api, owner.accessToken, "actor_id=\(UserID.generate().rawValue)")
            XCTAssertTrue(nobody.isEmpty)
            let noSuchAction = try await AuditTests.logs(api, owner.accessToken, "action=nothing.happened")
            XCTAssertTrue(noSuchAction.isEmpty)
        }
    }

    func testKeyActionsAreAttributedToTheKey() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:write", "audit:read"])
            let inv = try await api.post("/api/v1/invitations", token: key.secret, json: ["email": "via-key@example.com", "role": "viewer"])
            XCTAssertEqual(inv.code, 201, inv.text)
            let id = inv.data["id"] as? String ?? ""
            let entries = try await AuditTests.logs(api, key.secret, "object_id=\(id)")
            XCTAssertEqual(entries.count, 1, "\(entries)")
            XCTAssertEqual(AuditTests.actor(entries.first ?? [:]).type, "api_key")
            XCTAssertEqual(AuditTests.actor(entries.first ?? [:]).id, key.id)
        }
    }

    func testGetOneEntry() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:read"])
            let entry = try await AuditTests.logs(api, owner.accessToken, "action=api_key.created").first ?? [:]
            let id = entry["id"] as? String ?? ""
            let r = try await api.get("/api/v1/audit/logs/\(id)", token: owner.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["id"] as? String, id)
            XCTAssertEqual(r.data["action"] as? String, "api_key.created")
            XCTAssertEqual(r.data["object_id"] as? String, key.id)
            XCTAssertEqual(r.data["created_at"] as? String, entry["created_at"] as? String)

            for bad in ["nope", "aud_nope", AuditID.generate().rawValue, key.id, "%27%3B%20DROP%20TABLE%20audit_logs%3B--"] {
                let nf = try await api.get("/api/v1/audit/logs/\(bad)", token: owner.accessToken)
                XCTAssertEqual(nf.code, 404, "\(bad): \(nf.text)")
                XCTAssertEqual(nf.errorCode, "not_found")
            }
        }
    }

    func testOnlyAdminsReadTheAuditLog() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
            let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            let viewer = try await api.addMember(owner.accessToken, email: "viewer@example.com", role: "viewer")
            let any = try await AuditTests.logs(api, owner.accessToken).first?["id"] as? String ?? ""
            XCTAssertFalse(any.isEmpty)

            let byAdmin = try await api.get("/api/v1/audit/logs", token: admin.accessToken)
            XCTAssertEqual(byAdmin.code, 200, byAdmin.text)
            for (s, label) in [(member, "member"), (viewer, "viewer")] {
                let list = try await api.get("/api/v1/audit/logs", token: s.accessToken)
                XCTAssertEqual(list.code, 403, "\(label): \(list.text)")
                XCTAssertEqual(list.errorCode, "forbidden")
                XCTAssertTrue(F.detailScopes(list).contains("audit:read"), list.text)
                let one = try await api.get("/api/v1/audit/logs/\(any)", token: s.accessToken)
                XCTAssertEqual(one.code, 403, "\(label): \(one.text)")
            }
            let anonymous = try await api.get("/api/v1/audit/logs")
            XCTAssertEqual(anonymous.code, 401, anonymous.text)
        }
    }

    func testQueryValidation() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            for q in ["from=garbage", "to=yesterday", "from=2026-13-45", "limit=0", "limit=201", "cursor=bogus"] {
                let r = try await api.get("/api/v1/audit/logs?\(q)", token: owner.accessToken)
                XCTAssertEqual(r.code, 400, "\(q): \(r.text)")
                XCTAssertEqual(r.errorCode, "bad_request")
            }
            // Valid ranges: everything since 2000 includes the sign-up; a window in the past is empty.
            let since = try await AuditTests.logs(api, owner.accessToken, "from=2000-01-01T00:00:00.000Z")
            XCTAssertFalse(since.isEmpty)
            let old = try await AuditTests.logs(api, owner.accessToken, "from=2000-01-01&to=2000-12-31")
            XCTAssertTrue(old.isEmpty, "\(old)")
            let future = try await AuditTests.logs(api, owner.accessToken, "from=2999-01-01T00:00:00.000Z")
            XCTAssertTrue(future.isEmpty, "\(future)")
        }
    }

    func testPagingTheAuditLog() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            for i in 0..<3 { _ = try await F.createKey(api, owner.accessToken, name: "k\(i)", scopes: ["members:read"]) }
            let all = F.ids(try await AuditTests.logs(api, owner.accessToken))
            XCTAssertGreaterThanOrEqual(all.count, 4)
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let r = try await api.get("/api/v1/audit/logs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: owner.accessToken)
                XCTAssertEqual(r.code, 200, r.text)
                seen += F.ids(r.items)
                cursor = F.nextCursor(r)
                pages += 1
            } while cursor != nil && pages < 50
            // Paging itself writes nothing, so the pages cover exactly the list.
            XCTAssertEqual(seen, all)
            // A cursor cannot be carried to another filter.
            let first = try await api.get("/api/v1/audit/logs?limit=1", token: owner.accessToken)
            if let c = F.nextCursor(first) {
                let r = try await api.get("/api/v1/audit/logs?limit=1&action=api_key.created&cursor=\(c)", token: owner.accessToken)
                XCTAssertEqual(r.code, 400, r.text)
            } else {
                XCTFail("expected a cursor")
            }
        }
    }

    func testAuditLogHasNoWriteRoutes() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let id = try await AuditTests.logs(api, owner.accessToken).first?["id"] as? String ?? ""
            let del = try await api.delete("/api/v1/audit/logs/\(id)", token: owner.accessToken)
            XCTAssertEqual(del.code, 405, del.text)
            XCTAssertEqual(del.errorCode, "method_not_allowed")
            let post = try await api.post("/api/v1/audit/logs", token: owner.accessToken, json: ["action": "forged"])
            XCTAssertEqual(post.code, 405, post.text)
            let still = try await api.get("/api/v1/audit/logs/\(id)", token: owner.accessToken)
            XCTAssertEqual(still.code, 200, still.text)
        }
    }
}
