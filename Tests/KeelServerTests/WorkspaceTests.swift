import Foundation
import XCTest

final class WorkspaceTests: XCTestCase {
    typealias F = IdentityFixtures

    static func workspace(_ api: API, _ token: String) async throws -> TestResponse {
        let r = try await api.get("/api/v1/workspace", token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r
    }

    func testGetCurrentWorkspace() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let r = try await WorkspaceTests.workspace(api, s.accessToken)
            XCTAssertEqual(r.data["id"] as? String, s.workspaceID)
            XCTAssertEqual(r.data["name"] as? String, "Acme")
            XCTAssertEqual(r.data["default_currency"] as? String, "USD")
            XCTAssertEqual(r.data["role"] as? String, "owner")
            XCTAssertEqual(r.data["version"] as? Int, 1)
            XCTAssertEqual(r.header("ETag"), "\"1\"")
            let settings = r.data["settings"] as? [String: Any] ?? [:]
            XCTAssertEqual(settings["default_rot_days"] as? Int, 30)
            XCTAssertEqual(settings["require_lost_reason"] as? Bool, false)
            XCTAssertEqual((settings["lost_reasons"] as? [Any])?.count, 0)
            XCTAssertNotNil(r.data["timezone"] as? String)
        }
    }

    func testPatchNameCurrencyTimezone() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let r = try await api.patch("/api/v1/workspace", token: s.accessToken,
                                        json: ["name": "  Acme Corp ", "default_currency": "EUR", "timezone": "Europe/Paris"])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["name"] as? String, "Acme Corp")
            XCTAssertEqual(r.data["default_currency"] as? String, "EUR")
            XCTAssertEqual(r.data["timezone"] as? String, "Europe/Paris")
            XCTAssertEqual(r.data["version"] as? Int, 2)
            XCTAssertEqual(r.header("ETag"), "\"2\"")
            let g = try await WorkspaceTests.workspace(api, s.accessToken)
            XCTAssertEqual(g.data["name"] as? String, "Acme Corp")
            XCTAssertEqual(g.data["default_currency"] as? String, "EUR")
            XCTAssertEqual(g.data["timezone"] as? String, "Europe/Paris")
            XCTAssertEqual(g.header("ETag"), "\"2\"")
            // A PATCH that changes nothing does not bump the version.
            let same = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["name": "Acme Corp"])
            XCTAssertEqual(same.code, 200, same.text)
            XCTAssertEqual(same.data["version"] as? Int, 2)
        }
    }

    func testPatchValidationChangesNothing() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let cases: [([String: Any], String)] = [
                (["default_currency": "XYZ"], "default_currency"),
                (["default_currency": "EURO"], "default_currency"),
                (["default_currency": NSNull()], "default_currency"),
                (["timezone": "Mars/Olympus_Mons"], "timezone"),
                (["name": "   "], "name"),
                (["name": NSNull()], "name"),
                (["name": String(repeating: "n", count: 201)], "name"),
                (["settings": ["default_rot_days": 0]], "settings.default_rot_days"),
                (["settings": ["lost_reasons": ["ok", "  "]]], "settings.lost_reasons"),
                (["settings": ["colour": "blue"]], "settings.colour"),
                (["plan": "enterprise"], "plan"),
                // A valid change alongside an invalid one is refused as a whole.
                (["name": "Renamed", "default_currency": "ZZZ"], "default_currency"),
            ]
            for (body, field) in cases {
                let r = try await api.patch("/api/v1/workspace", token: s.accessToken, json: body)
                XCTAssertEqual(r.code, 422, "\(body): \(r.text)")
                XCTAssertEqual(r.errorCode, "validation_failed", "\(body)")
                XCTAssertTrue(F.detailFields(r).contains(field), "\(body) should name \(field): \(r.text)")
            }
            let malformed = try await api.send(.patch, "/api/v1/workspace", token: s.accessToken, raw: "{\"name\":")
            XCTAssertEqual(malformed.code, 400, malformed.text)
            let g = try await WorkspaceTests.workspace(api, s.accessToken)
            XCTAssertEqual(g.data["name"] as? String, "Acme")
            XCTAssertEqual(g.data["default_currency"] as? String, "USD")
            XCTAssertEqual(g.data["version"] as? Int, 1)
            XCTAssertEqual((g.data["settings"] as? [String: Any])?["default_rot_days"] as? Int, 30)
        }
    }

    func testSettingsArePartiallyUpdated() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let first = try await api.patch("/api/v1/workspace", token: s.accessToken,
                                            json: ["settings": ["lost_reasons": ["Price", "Timing"], "require_lost_reason": true]])
            XCTAssertEqual(first.code, 200, first.text)
            let s1 = first.data["settings"] as? [String: Any] ?? [:]
            XCTAssertEqual(s1["lost_reasons"] as? [String], ["Price", "Timing"])
            XCTAssertEqual(s1["require_lost_reason"] as? Bool, true)
            XCTAssertEqual(s1["default_rot_days"] as? Int, 30)

            let second = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["settings": ["default_rot_days": 14]])
            XCTAssertEqual(second.code, 200, second.text)
            let g = try await WorkspaceTests.workspace(api, s.accessToken)
            let s2 = g.data["settings"] as? [String: Any] ?? [:]
            XCTAssertEqual(s2["lost_reasons"] as? [String], ["Price", "Timing"], "unnamed settings must be kept")
            XCTAssertEqual(s2["require_lost_reason"] as? Bool, true, "unnamed settings must be kept")
            XCTAssertEqual(s2["default_rot_days"] as? Int, 14)
            XCTAssertEqual(g.data["name"] as? String, "Acme", "settings PATCH must not touch other fields")
            XCTAssertEqual(g.data["version"] as? Int, 3)
        }
    }

    func testStaleIfMatchIs409AndWritesNothing() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let ok = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["name": "First"], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(ok.code, 200, ok.text)
            XCTAssertEqual(ok.header("ETag"), "\"2\"")

            let stale = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["name": "Second", "default_currency": "GBP"],
                                            headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409, stale.text)
            XCTAssertEqual(stale.errorCode, "version_conflict")

            let staleBody = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["name": "Third", "version": 1])
            XCTAssertEqual(staleBody.code, 409, staleBody.text)
            XCTAssertEqual(staleBody.errorCode, "version_conflict")

            let g = try await WorkspaceTests.workspace(api, s.accessToken)
            XCTAssertEqual(g.data["name"] as? String, "First")
            XCTAssertEqual(g.data["default_currency"] as? String, "USD")
            XCTAssertEqual(g.data["version"] as? Int, 2)

            let current = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["name": "Fourth", "version": 2])
            XCTAssertEqual(current.code, 200, current.text)
            XCTAssertEqual(current.data["version"] as? Int, 3)

            let garbage = try await api.patch("/api/v1/workspace", token: s.accessToken, json: ["name": "Fifth"], headers: ["If-Match": "\"abc\""])
            XCTAssertEqual(garbage.code, 400, garbage.text)
            let after = try await WorkspaceTests.workspace(api, s.accessToken)
            XCTAssertEqual(after.data["name"] as? String, "Fourth")
        }
    }

    func testViewerAndMemberCannotPatch() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            let viewer = try await api.addMember(owner.accessToken, email: "viewer@example.com", role: "viewer")
            for (session, label) in [(member, "member"), (viewer, "viewer")] {
                let read = try await api.get("/api/v1/workspace", token: session.accessToken)
                XCTAssertEqual(read.code, 200, "\(label) may read: \(read.text)")
                XCTAssertEqual(read.data["role"] as? String, label)
                let r = try await api.patch("/api/v1/workspace", token: session.accessToken, json: ["name": "Hijacked"])
                XCTAssertEqual(r.code, 403, "\(label): \(r.text)")
                XCTAssertEqual(r.errorCode, "forbidden")
                let d = try await api.delete("/api/v1/workspace", token: session.accessToken)
                XCTAssertEqual(d.code, 403, "\(label) delete: \(d.text)")
            }
            let g = try await WorkspaceTests.workspace(api, owner.accessToken)
            XCTAssertEqual(g.data["name"] as? String, "Acme")
            XCTAssertEqual(g.data["version"] as? Int, 1)
        }
    }

    func testDeleteWorkspace() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
            let second = try await api.post("/api/v1/workspaces", token: owner.accessToken, json: ["name": "Keeper"])
            XCTAssertEqual(second.code, 201, second.text)

            let byAdmin = try await api.delete("/api/v1/workspace", token: admin.accessToken)
            XCTAssertEqual(byAdmin.code, 403, byAdmin.text)
            XCTAssertEqual(byAdmin.errorCode, "forbidden")
            let stillThere = try await api.get("/api/v1/workspace", token: owner.accessToken)
            XCTAssertEqual(stillThere.code, 200, stillThere.text)

            let byOwner = try await api.delete("/api/v1/workspace", token: owner.accessToken)
            XCTAssertEqual(byOwner.code, 204, byOwner.text)
            XCTAssertTrue(byOwner.text.isEmpty)

            for (token, label) in [(owner.accessToken, "owner"), (admin.accessToken, "admin")] {
                let r = try await api.get("/api/v1/workspace", token: token)
                XCTAssertEqual(r.code, 401, "\(label): \(r.text)")
                XCTAssertEqual(r.errorCode, "unauthenticated")
            }
            let refresh = try await api.post("/api/v1/auth/refresh", json: ["refresh_token": owner.refreshToken])
            XCTAssertEqual(refresh.code, 401, refresh.text)

            // The owner can still sign in, into the surviving workspace only.
            let login = try await api.login(email: "owner@example.com")
            XCTAssertEqual(login.code, 200, login.text)
            XCTAssertEqual(Session(login).workspaceID, second.data["id"] as? String)
            let mine = try await api.get("/api/v1/workspaces", token: Session(login).accessToken)
            XCTAssertEqual(F.ids(mine.items), [second.data["id"] as? String ?? ""])
            let switchBack = try await api.post("/api/v1/auth/switch-workspace", token: Session(login).accessToken,
                                                json: ["workspace_id": owner.workspaceID])
            XCTAssertEqual(switchBack.code, 422, switchBack.text)
        }
    }

    func testTransferOwnership() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
            _ = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            let adminMember = try await F.memberID(api, owner.accessToken, email: "admin@example.com")
            let memberMember = try await F.memberID(api, owner.accessToken, email: "member@example.com")
            let ownerMember = try await F.memberID(api, owner.accessToken, email: "owner@example.com")

            // Only an owner may transfer.
            let byAdmin = try await api.post("/api/v1/workspace/transfer-ownership", token: admin.accessToken, json: ["member_id": memberMember])
            XCTAssertEqual(byAdmin.code, 403, byAdmin.text)
            let role1 = try await F.role(api, owner.accessToken, email: "member@example.com")
            XCTAssertEqual(role1, "member")

            // Bad targets.
            let unknown = try await api.post("/api/v1/workspace/transfer-ownership", token: owner.accessToken,
                                             json: ["member_id": "mem_01HZZZZZZZZZZZZZZZZZZZZZZZ"])
            XCTAssertEqual(unknown.code, 422, unknown.text)
            XCTAssertEqual(unknown.errorCode, "validation_failed")
            XCTAssertTrue(F.detailFields(unknown).contains("member_id"), unknown.text)
            let malformed = try await api.post("/api/v1/workspace/transfer-ownership", token: owner.accessToken, json: ["member_id": "bob"])
            XCTAssertEqual(malformed.code, 422, malformed.text)
            let toSelf = try await api.post("/api/v1/workspace/transfer-ownership", token: owner.accessToken, json: ["member_id": ownerMember])
            XCTAssertEqual(toSelf.code, 422, toSelf.text)
            let role2 = try await F.role(api, owner.accessToken, email: "owner@example.com")
            XCTAssertEqual(role2, "owner")

            let r = try await api.post("/api/v1/workspace/transfer-ownership", token: owner.accessToken, json: ["member_id": adminMember])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["id"] as? String, adminMember)
            XCTAssertEqual(r.data["role"] as? String, "owner")

            let role3 = try await F.role(api, admin.accessToken, email: "admin@example.com")
            XCTAssertEqual(role3, "owner")
            let role4 = try await F.role(api, admin.accessToken, email: "owner@example.com")
            XCTAssertEqual(role4, "admin")
            // The former owner now acts as an admin.
            let ws = try await api.get("/api/v1/workspace", token: owner.accessToken)
            XCTAssertEqual(ws.data["role"] as? String, "admin", ws.text)
            let delete = try await api.delete("/api/v1/workspace", token: owner.accessToken)
            XCTAssertEqual(delete.code, 403, delete.text)
            let newOwnerView = try await api.get("/api/v1/workspace", token: admin.accessToken)
            XCTAssertEqual(newOwnerView.data["role"] as? String, "owner")
        }
    }

    func testWorkspacesListAndCreate() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")

            let created = try await api.post("/api/v1/workspaces", token: owner.accessToken,
                                             json: ["name": "Second", "default_currency": "EUR", "timezone": "Europe/Berlin"])
            XCTAssertEqual(created.code, 201, created.text)
            let secondID = created.data["id"] as? String ?? ""
            XCTAssertEqual(created.header("Location"), "/api/v1/workspaces", created.text)
            XCTAssertFalse(secondID.isEmpty)
            XCTAssertEqual(created.data["default_currency"] as? String, "EUR")
            XCTAssertEqual(created.data["timezone"] as? String, "Europe/Berlin")
            XCTAssertEqual(created.data["role"] as? String, "owner")

            let mine = try await api.get("/api/v1/workspaces", token: owner.accessToken)
            XCTAssertEqual(mine.code, 200, mine.text)
            XCTAssertEqual(Set(F.ids(mine.items)), [owner.workspaceID, secondID])
            for item in mine.items { XCTAssertEqual(item["role"] as? String, "owner", mine.text) }
            XCTAssertEqual(F.hasMore(mine), false)

            let theirs = try await api.get("/api/v1/workspaces", token: member.accessToken)
            XCTAssertEqual(F.ids(theirs.items), [owner.workspaceID])
            XCTAssertEqual(theirs.items.first?["role"] as? String, "member")

            // Invalid creations create nothing.
            let invalid: [[String: Any]] = [["name": ""], ["name": "X", "default_currency": "ABC"], ["name": "X", "timezone": "Nowhere/Land"],
                                            ["name": "X", "owner": "me"]]
            for body in invalid {
                let bad = try await api.post("/api/v1/workspaces", token: owner.accessToken, json: body)
                XCTAssertEqual(bad.code, 422, "\(body): \(bad.text)")
            }
            let after = try await api.get("/api/v1/workspaces", token: owner.accessToken)
            XCTAssertEqual(after.items.count, 2, after.text)

            // The new workspace is empty apart from its owner.
            let sw = Session(try await api.post("/api/v1/auth/switch-workspace", token: owner.accessToken, json: ["workspace_id": secondID]))
            let members = try await F.members(api, sw.accessToken)
            XCTAssertEqual(members.compactMap { $0["email"] as? String }, ["owner@example.com"])
        }
    }

    func testAPIKeysCannotUseUserOnlyRoutes() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let key = try await api.createKey(owner.accessToken, scopes: ["*"])
            XCTAssertTrue(key.hasPrefix("keel_live_"))

            let ws = try await api.get("/api/v1/workspace", token: key)
            XCTAssertEqual(ws.code, 200, "a * key may read the workspace: \(ws.text)")

            let attempts: [(String, String, Any?)] = [
                ("GET", "/api/v1/workspaces", nil),
                ("POST", "/api/v1/workspaces", ["name": "Via key"]),
                ("GET", "/api/v1/api-keys", nil),
                ("POST", "/api/v1/api-keys", ["name": "child", "scopes": ["*"]]),
                ("POST", "/api/v1/auth/logout", [String: Any]()),
                ("POST", "/api/v1/auth/switch-workspace", ["workspace_id": owner.workspaceID]),
            ]
            for (method, path, body) in attempts {
                let r = try await api.send(method == "GET" ? .get : .post, path, token: key, json: body)
                XCTAssertEqual(r.code, 403, "\(method) \(path): \(r.text)")
                XCTAssertEqual(r.errorCode, "forbidden", "\(method) \(path)")
            }
            // Nothing was created through the key, and the key still works (logout did not revoke anything).
            let mine = try await api.get("/api/v1/workspaces", token: owner.accessToken)
            XCTAssertEqual(mine.items.count, 1, mine.text)
            let keys = try await api.get("/api/v1/api-keys", token: owner.accessToken)
            XCTAssertEqual(keys.items.count, 1, keys.text)
            let still = try await api.get("/api/v1/members", token: key)
            XCTAssertEqual(still.code, 200, still.text)
        }
    }

    func testSQLMetacharactersAreStoredVerbatim() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let evil = "Robert'); DROP TABLE users;--"
            let r = try await api.patch("/api/v1/workspace", token: owner.accessToken, json: ["name": evil])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["name"] as? String, evil)
            let g = try await WorkspaceTests.workspace(api, owner.accessToken)
            XCTAssertEqual(g.data["name"] as? String, evil)

            let quoted = "O\"Brien \\ 100% _under_ ; SELECT * FROM workspaces"
            let created = try await api.post("/api/v1/workspaces", token: owner.accessToken, json: ["name": quoted])
            XCTAssertEqual(created.code, 201, created.text)
            let mine = try await api.get("/api/v1/workspaces", token: owner.accessToken)
            XCTAssertEqual(Set(mine.items.compactMap { $0["name"] as? String }), [evil, quoted])

            // The users table survived.
            let login = try await api.login(email: "owner@example.com")
            XCTAssertEqual(login.code, 200, login.text)
        }
    }
}
