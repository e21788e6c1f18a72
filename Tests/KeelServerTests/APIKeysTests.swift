import Foundation
import KeelCore
import XCTest

final class APIKeysTests: XCTestCase {
    typealias F = IdentityFixtures

    static func getKey(_ api: API, _ token: String, _ id: String) async throws -> TestResponse {
        try await api.get("/api/v1/api-keys/\(id)", token: token)
    }

    func testCreateShowsTheSecretOnlyOnce() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let r = try await api.post("/api/v1/api-keys", token: owner.accessToken, json: ["name": "CI", "scopes": ["members:read", "audit:read"]])
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            let secret = r.data["secret"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("key_"), r.text)
            XCTAssertTrue(secret.hasPrefix("keel_live_"), r.text)
            XCTAssertGreaterThan(secret.count, "keel_live_".count + 20)
            XCTAssertEqual(r.header("Location"), "/api/v1/api-keys/\(id)")
            XCTAssertEqual(r.data["name"] as? String, "CI")
            XCTAssertEqual(Set(r.data["scopes"] as? [String] ?? []), ["members:read", "audit:read"])
            XCTAssertEqual(r.data["version"] as? Int, 1)
            let prefix = r.data["prefix"] as? String ?? ""
            XCTAssertFalse(prefix.isEmpty)
            XCTAssertTrue(secret.hasPrefix(prefix), "the lookup prefix is the start of the secret")
            XCTAssertLessThan(prefix.count, secret.count)
            let ownerID = try await F.userID(api, owner.accessToken)
            XCTAssertEqual(r.data["created_by"] as? String, ownerID)
            XCTAssertTrue(F.isNull(r.data["last_used_at"]))
            XCTAssertTrue(F.isNull(r.data["revoked_at"]))

            let get = try await APIKeysTests.getKey(api, owner.accessToken, id)
            XCTAssertEqual(get.code, 200, get.text)
            XCTAssertTrue(F.isNull(get.data["secret"]), "GET must not reveal the secret: \(get.text)")
            XCTAssertFalse(get.text.contains(secret))
            XCTAssertEqual(get.data["prefix"] as? String, prefix)
            XCTAssertEqual(get.header("ETag"), "\"1\"")
            let list = try await api.get("/api/v1/api-keys", token: owner.accessToken)
            XCTAssertEqual(list.code, 200, list.text)
            XCTAssertEqual(F.ids(list.items), [id])
            XCTAssertTrue(F.isNull(list.items.first?["secret"]), list.text)
            XCTAssertFalse(list.text.contains(secret))
        }
    }

    func testKeyAuthenticatesAndScopesAreEnforced() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:read"])

            let members = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(members.code, 200, members.text)
            XCTAssertEqual(members.items.count, 1)
            let invitations = try await api.get("/api/v1/invitations", token: key.secret)
            XCTAssertEqual(invitations.code, 200, "members:read covers invitations: \(invitations.text)")

            let audit = try await api.get("/api/v1/audit/logs", token: key.secret)
            XCTAssertEqual(audit.code, 403, audit.text)
            XCTAssertEqual(audit.errorCode, "forbidden")
            XCTAssertTrue(F.detailScopes(audit).contains("audit:read"), "details must name audit:read: \(audit.text)")

            let invite = try await api.post("/api/v1/invitations", token: key.secret, json: ["email": "x@example.com", "role": "member"])
            XCTAssertEqual(invite.code, 403, invite.text)
            XCTAssertTrue(F.detailScopes(invite).contains("members:write"), invite.text)

            let ws = try await api.get("/api/v1/workspace", token: key.secret)
            XCTAssertEqual(ws.code, 403, ws.text)
            XCTAssertTrue(F.detailScopes(ws).contains("workspace:read"), ws.text)

            let patchWS = try await api.patch("/api/v1/workspace", token: key.secret, json: ["name": "Via key"])
            XCTAssertEqual(patchWS.code, 403, patchWS.text)
            let g = try await api.get("/api/v1/workspace", token: owner.accessToken)
            XCTAssertEqual(g.data["name"] as? String, "Acme")
            let pending = try await api.get("/api/v1/invitations", token: owner.accessToken)
            XCTAssertTrue(pending.items.isEmpty, pending.text)

            // Shorthand and wildcard keys.
            let star = try await F.createKey(api, owner.accessToken, scopes: ["*"])
            let starAudit = try await api.get("/api/v1/audit/logs", token: star.secret)
            XCTAssertEqual(starAudit.code, 200, starAudit.text)
            let crm = try await F.createKey(api, owner.accessToken, scopes: ["crm:write"])
            let crmMembers = try await api.get("/api/v1/members", token: crm.secret)
            XCTAssertEqual(crmMembers.code, 403, "crm:* does not cover members: \(crmMembers.text)")
        }
    }

    func testInvalidSecretsAre401() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:read"])
            var chars = Array(key.secret)
            let last = chars.count - 1
            chars[last] = chars[last] == "a" ? "b" : "a"
            for bad in [String(chars), "keel_live_short", "keel_live_" + String(repeating: "z", count: 44), key.secret + "x"] {
                let r = try await api.get("/api/v1/members", token: bad)
                XCTAssertEqual(r.code, 401, "\(bad): \(r.text)")
                XCTAssertEqual(r.errorCode, "unauthenticated")
            }
        }
    }

    func testScopesCannotExceedTheCreatorsRole() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let viewer = try await api.addMember(owner.accessToken, email: "viewer@example.com", role: "viewer")
            let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")

            let denied = try await api.post("/api/v1/api-keys", token: viewer.accessToken, json: ["name": "too much", "scopes": ["members:write"]])
            XCTAssertEqual(denied.code, 403, denied.text)
            XCTAssertEqual(denied.errorCode, "forbidden")
            XCTAssertTrue(F.detailScopes(denied).contains("members:write"), denied.text)
            let auditKey = try await api.post("/api/v1/api-keys", token: member.accessToken, json: ["name": "audit", "scopes": ["audit:read"]])
            XCTAssertEqual(auditKey.code, 403, auditKey.text)

            let allowed = try await api.post("/api/v1/api-keys", token: viewer.accessToken, json: ["name": "reader", "scopes": ["members:read"]])
            XCTAssertEqual(allowed.code, 201, allowed.text)
            let list = try await api.get("/api/v1/api-keys", token: owner.accessToken)
            XCTAssertEqual(list.items.compactMap { $0["name"] as? String }, ["reader"], "refused keys must not exist")

            // A viewer's * key still acts as a viewer.
            let star = try await F.createKey(api, viewer.accessToken, scopes: ["*"])
            let write = try await api.post("/api/v1/invitations", token: star.secret, json: ["email": "x@example.com", "role": "viewer"])
            XCTAssertEqual(write.code, 403, write.text)
            let read = try await api.get("/api/v1/members", token: star.secret)
            XCTAssertEqual(read.code, 200, read.text)
        }
    }

    func testCreateValidation() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let past = Timestamp.format(Date().addingTimeInterval(-3600))
            let cases: [([String: Any], String)] = [
                (["name": "old", "scopes": ["*"], "expires_at": past], "expires_at"),
                (["name": "bad date", "scopes": ["*"], "expires_at": "tomorrow"], "expires_at"),
                (["name": "none", "scopes": [String]()], "scopes"),
                (["name": "unknown", "scopes": ["contacts:delete"]], "scopes[0]"),
                (["name": "  ", "scopes": ["*"]], "name"),
                (["scopes": ["*"]], "name"),
                (["name": "x", "scopes": ["*"], "owner": "me"], "owner"),
            ]
            for (body, field) in cases {
                let r = try await api.post("/api/v1/api-keys", token: owner.accessToken, json: body)
                XCTAssertEqual(r.code, 422, "\(body): \(r.text)")
                XCTAssertEqual(r.errorCode, "validation_failed")
                XCTAssertTrue(F.detailFields(r).contains(field), "\(body) should name \(field): \(r.text)")
            }
            let list = try await api.get("/api/v1/api-keys?include_revoked=true", token: owner.accessToken)
            XCTAssertTrue(list.items.isEmpty, list.text)

            let future = Date().addingTimeInterval(86_400)
            let ok = try await api.post("/api/v1/api-keys", token: owner.accessToken,
                                        json: ["name": "temp", "scopes": ["members:read"], "expires_at": Timestamp.format(future)])
            XCTAssertEqual(ok.code, 201, ok.text)
            XCTAssertEqual(ok.data["expires_at"] as? String, Timestamp.format(future))
            let works = try await api.get("/api/v1/members", token: ok.data["secret"] as? String ?? "")
            XCTAssertEqual(works.code, 200, works.text)
        }
    }

    func testPatchMayNarrowButNotWiden() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:write", "audit:read"])
            let before = try await api.post("/api/v1/invitations", token: key.secret, json: ["email": "a@example.com", "role": "viewer"])
            XCTAssertEqual(before.code, 201, before.text)

            let narrow = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["scopes": ["members:read"], "name": "narrowed"])
            XCTAssertEqual(narrow.code, 200, narrow.text)
            XCTAssertEqual(narrow.data["scopes"] as? [String], ["members:read"])
            XCTAssertEqual(narrow.data["name"] as? String, "narrowed")
            XCTAssertEqual(narrow.data["version"] as? Int, 2)
            XCTAssertEqual(narrow.header("ETag"), "\"2\"")
            XCTAssertTrue(F.isNull(narrow.data["secret"]))

            // The narrowing applies at once (even if the key was cached).
            let after = try await api.post("/api/v1/invitations", token: key.secret, json: ["email": "b@example.com", "role": "viewer"])
            XCTAssertEqual(after.code, 403, after.text)
            let audit = try await api.get("/api/v1/audit/logs", token: key.secret)
            XCTAssertEqual(audit.code, 403, audit.text)
            let read = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(read.code, 200, read.text)

            for scopes in [["members:write"], ["members:read", "audit:read"], ["*"], ["crm:read"]] {
                let widen = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["scopes": scopes])
                XCTAssertEqual(widen.code, 422, "\(scopes): \(widen.text)")
                XCTAssertEqual(widen.errorCode, "validation_failed")
                XCTAssertTrue(F.detailFields(widen).contains { $0.hasPrefix("scopes") }, widen.text)
            }
            let bogus = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["scopes": ["nope:read"]])
            XCTAssertEqual(bogus.code, 422, bogus.text)
            let stale = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["name": "stale"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409, stale.text)
            XCTAssertEqual(stale.errorCode, "version_conflict")
            let nullName = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["name": NSNull()])
            XCTAssertEqual(nullName.code, 422, nullName.text)

            let g = try await APIKeysTests.getKey(api, owner.accessToken, key.id)
            XCTAssertEqual(g.data["scopes"] as? [String], ["members:read"])
            XCTAssertEqual(g.data["name"] as? String, "narrowed")
            XCTAssertEqual(g.data["version"] as? Int, 2)
        }
    }

    func testRevokeKillsTheKey() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:read"])
            let other = try await F.createKey(api, owner.accessToken, name: "other", scopes: ["members:read"])
            // Use it first, so any credential cache holds it.
            let warm = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(warm.code, 200, warm.text)

            let r = try await api.delete("/api/v1/api-keys/\(key.id)", token: owner.accessToken)
            XCTAssertEqual(r.code, 204, r.text)
            XCTAssertTrue(r.text.isEmpty)
            let dead = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(dead.code, 401, dead.text)
            XCTAssertEqual(dead.errorCode, "unauthenticated")
            let alive = try await api.get("/api/v1/members", token: other.secret)
            XCTAssertEqual(alive.code, 200, "revoking one key must not touch another: \(alive.text)")

            // Kept for audit: readable, listed only with include_revoked.
            let g = try await APIKeysTests.getKey(api, owner.accessToken, key.id)
            XCTAssertEqual(g.code, 200, g.text)
            XCTAssertFalse(F.isNull(g.data["revoked_at"]), g.text)
            let list = try await api.get("/api/v1/api-keys", token: owner.accessToken)
            XCTAssertEqual(F.ids(list.items), [other.id])
            let withRevoked = try await api.get("/api/v1/api-keys?include_revoked=true", token: owner.accessToken)
            XCTAssertEqual(Set(F.ids(withRevoked.items)), [key.id, other.id])
            let badFlag = try await api.get("/api/v1/api-keys?include_revoked=maybe", token: owner.accessToken)
            XCTAssertEqual(badFlag.code, 400, badFlag.text)

            // A revoked key cannot be rotated back to life or edited.
            let rotate = try await api.post("/api/v1/api-keys/\(key.id)/rotate", token: owner.accessToken)
            XCTAssertEqual(rotate.code, 409, rotate.text)
            let stillDead = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(stillDead.code, 401, stillDead.text)
            let patch = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["name": "zombie"])
            XCTAssertEqual(patch.code, 409, patch.text)
        }
    }

    func testRotateReplacesTheSecret() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:read"])
            let warm = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(warm.code, 200, warm.text)

            let r = try await api.post("/api/v1/api-keys/\(key.id)/rotate", token: owner.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["id"] as? String, key.id)
            let newSecret = r.data["secret"] as? String ?? ""
            XCTAssertTrue(newSecret.hasPrefix("keel_live_"), r.text)
            XCTAssertNotEqual(newSecret, key.secret)
            XCTAssertEqual(r.data["version"] as? Int, 2)
            XCTAssertEqual(r.data["scopes"] as? [String], ["members:read"])

            let old = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(old.code, 401, old.text)
            let new = try await api.get("/api/v1/members", token: newSecret)
            XCTAssertEqual(new.code, 200, new.text)
            let g = try await APIKeysTests.getKey(api, owner.accessToken, key.id)
            XCTAssertTrue(F.isNull(g.data["secret"]))
            XCTAssertTrue(newSecret.hasPrefix(g.data["prefix"] as? String ?? "-"), "prefix follows the new secret")
        }
    }

    func testMembersSeeOwnKeysAdminsSeeAll() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
            let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            let ownerKey = try await F.createKey(api, owner.accessToken, name: "owner's", scopes: ["members:read"])
            let memberKey = try await F.createKey(api, member.accessToken, name: "member's", scopes: ["members:read"])

            let mine = try await api.get("/api/v1/api-keys", token: member.accessToken)
            XCTAssertEqual(F.ids(mine.items), [memberKey.id])
            let all = try await api.get("/api/v1/api-keys", token: admin.accessToken)
            XCTAssertEqual(Set(F.ids(all.items)), [ownerKey.id, memberKey.id])

            // Another member's key is simply not there for a member.
            let get = try await APIKeysTests.getKey(api, member.accessToken, ownerKey.id)
            XCTAssertEqual(get.code, 404, get.text)
            let del = try await api.delete("/api/v1/api-keys/\(ownerKey.id)", token: member.accessToken)
            XCTAssertEqual(del.code, 404, del.text)
            let rot = try await api.post("/api/v1/api-keys/\(ownerKey.id)/rotate", token: member.accessToken)
            XCTAssertEqual(rot.code, 404, rot.text)
            let patch = try await api.patch("/api/v1/api-keys/\(ownerKey.id)", token: member.accessToken, json: ["name": "mine now"])
            XCTAssertEqual(patch.code, 404, patch.text)
            let still = try await api.get("/api/v1/members", token: ownerKey.secret)
            XCTAssertEqual(still.code, 200, still.text)
            let name = try await APIKeysTests.getKey(api, owner.accessToken, ownerKey.id).data["name"] as? String
            XCTAssertEqual(name, "owner's")

            // An admin revokes a member's key.
            let revoke = try await api.delete("/api/v1/api-keys/\(memberKey.id)", token: admin.accessToken)
            XCTAssertEqual(revoke.code, 204, revoke.text)
            let dead = try await api.get("/api/v1/members", token: memberKey.secret)
            XCTAssertEqual(dead.code, 401, dead.text)

            for bad in ["key_nope", MemberID.generate().rawValue, APIKeyID.generate().rawValue] {
                let r = try await APIKeysTests.getKey(api, owner.accessToken, bad)
                XCTAssertEqual(r.code, 404, "\(bad): \(r.text)")
            }
        }
    }

    func testLastUsedAtIsTracked() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await F.createKey(api, owner.accessToken, scopes: ["members:read"])
            let before = try await APIKeysTests.getKey(api, owner.accessToken, key.id)
            XCTAssertTrue(F.isNull(before.data["last_used_at"]), before.text)
            let use = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(use.code, 200, use.text)
            let after = try await APIKeysTests.getKey(api, owner.accessToken, key.id)
            let lastUsed = after.data["last_used_at"] as? String
            XCTAssertNotNil(lastUsed, after.text)
            if let lastUsed {
                XCTAssertNotNil(Timestamp.parse(lastUsed))
                XCTAssertTrue(lastUsed.hasSuffix("Z"), lastUsed)
            }
        }
    }

    func testKeyNameWithSQLMetacharacters() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let evil = "Robert'); DROP TABLE api_keys;--"
            let key = try await F.createKey(api, owner.accessToken, name: evil, scopes: ["members:read"])
            let g = try await APIKeysTests.getKey(api, owner.accessToken, key.id)
            XCTAssertEqual(g.data["name"] as? String, evil)
            let list = try await api.get("/api/v1/api-keys", token: owner.accessToken)
            XCTAssertEqual(list.items.first?["name"] as? String, evil)
            let renamed = "\"; DELETE FROM users; --"
            let p = try await api.patch("/api/v1/api-keys/\(key.id)", token: owner.accessToken, json: ["name": renamed])
            XCTAssertEqual(p.data["name"] as? String, renamed)
            let works = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(works.code, 200, works.text)
        }
    }
}
