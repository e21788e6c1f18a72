import Foundation
import KeelCore
import XCTest

/// Workspace A's records, seen with workspace B's credentials: always 404 on id routes, never in lists.
final class TenantIsolationTests: XCTestCase {
    typealias F = IdentityFixtures

    struct WorkspaceA {
        let owner: Session
        let member: Session
        let memberID: String
        let memberUserID: String
        let invitationID: String
        let invitationToken: String
        let keyID: String
        let keySecret: String
        let auditIDs: [String]
    }

    /// Workspace A with a member, a pending invitation, an API key and audit entries.
    static func seedA(_ api: API) async throws -> WorkspaceA {
        let owner = try await api.signup(email: "a-owner@example.com", workspace: "Alpha")
        let member = try await api.addMember(owner.accessToken, email: "a-member@example.com", role: "member")
        let memberID = try await F.memberID(api, owner.accessToken, email: "a-member@example.com")
        let memberUserID = try await F.userID(api, member.accessToken)
        let inv = try await F.invite(api, owner.accessToken, email: "a-invitee@example.com", role: "viewer")
        let key = try await F.createKey(api, owner.accessToken, name: "alpha key", scopes: ["members:read"])
        let audit = try await api.get("/api/v1/audit/logs?limit=200", token: owner.accessToken)
        XCTAssertEqual(audit.code, 200, audit.text)
        XCTAssertFalse(audit.items.isEmpty)
        return WorkspaceA(owner: owner, member: member, memberID: memberID, memberUserID: memberUserID, invitationID: inv.id,
                          invitationToken: inv.token, keyID: key.id, keySecret: key.secret, auditIDs: F.ids(audit.items))
    }

    static func assert404(_ r: TestResponse, _ label: String, line: UInt = #line) {
        XCTAssertEqual(r.code, 404, "\(label): \(r.text)", line: line)
        XCTAssertEqual(r.errorCode, "not_found", label, line: line)
    }

    /// Checks that A's state is exactly as seeded.
    static func assertAUntouched(_ api: API, _ a: WorkspaceA) async throws {
        let role = try await F.role(api, a.owner.accessToken, email: "a-member@example.com")
        XCTAssertEqual(role, "member", "A's member must be untouched")
        let inv = try await api.get("/api/v1/invitations/\(a.invitationID)", token: a.owner.accessToken)
        XCTAssertEqual(inv.data["status"] as? String, "pending", inv.text)
        let lookup = try await api.get("/api/v1/invitations/lookup?token=\(a.invitationToken)")
        XCTAssertEqual(lookup.code, 200, "A's invitation token must still work: \(lookup.text)")
        let key = try await api.get("/api/v1/api-keys/\(a.keyID)", token: a.owner.accessToken)
        XCTAssertEqual(key.data["name"] as? String, "alpha key")
        XCTAssertEqual(key.data["version"] as? Int, 1)
        XCTAssertTrue(F.isNull(key.data["revoked_at"]), key.text)
        let use = try await api.get("/api/v1/members", token: a.keySecret)
        XCTAssertEqual(use.code, 200, "A's key must still work: \(use.text)")
        let member = try await api.get("/api/v1/members", token: a.member.accessToken)
        XCTAssertEqual(member.code, 200, "A's member must still be signed in: \(member.text)")
    }

    static func runIsolationChecks(_ api: API, a: WorkspaceA, bToken: String, bIsAdmin: Bool) async throws {
        // Members.
        TenantIsolationTests.assert404(try await api.get("/api/v1/members/\(a.memberID)", token: bToken), "GET member")
        TenantIsolationTests.assert404(try await api.patch("/api/v1/members/\(a.memberID)", token: bToken, json: ["role": "viewer"]), "PATCH member")
        TenantIsolationTests.assert404(try await api.delete("/api/v1/members/\(a.memberID)", token: bToken), "DELETE member")
        // Invitations.
        TenantIsolationTests.assert404(try await api.get("/api/v1/invitations/\(a.invitationID)", token: bToken), "GET invitation")
        TenantIsolationTests.assert404(try await api.delete("/api/v1/invitations/\(a.invitationID)", token: bToken), "DELETE invitation")
        TenantIsolationTests.assert404(try await api.post("/api/v1/invitations/\(a.invitationID)/resend", token: bToken), "resend invitation")
        if bIsAdmin {
            // API keys (user sessions only) and audit entries (admins only).
            TenantIsolationTests.assert404(try await api.get("/api/v1/api-keys/\(a.keyID)", token: bToken), "GET key")
            TenantIsolationTests.assert404(try await api.patch("/api/v1/api-keys/\(a.keyID)", token: bToken, json: ["name": "stolen"]), "PATCH key")
            TenantIsolationTests.assert404(try await api.post("/api/v1/api-keys/\(a.keyID)/rotate", token: bToken), "rotate key")
            TenantIsolationTests.assert404(try await api.delete("/api/v1/api-keys/\(a.keyID)", token: bToken), "DELETE key")
            for id in a.auditIDs.prefix(5) {
                TenantIsolationTests.assert404(try await api.get("/api/v1/audit/logs/\(id)", token: bToken), "GET audit \(id)")
            }
            // Ids inside a body → 422 not_found; inside a query → 400.
            let transfer = try await api.post("/api/v1/workspace/transfer-ownership", token: bToken, json: ["member_id": a.memberID])
            XCTAssertEqual(transfer.code, 422, transfer.text)
            XCTAssertEqual(transfer.errorDetails.first?["code"] as? String, "not_found", transfer.text)
        }

        // Lists never include A's rows.
        let members = try await api.get("/api/v1/members?limit=200", token: bToken)
        XCTAssertEqual(members.code, 200, members.text)
        XCTAssertFalse(F.ids(members.items).contains(a.memberID))
        XCTAssertFalse(members.items.contains { ($0["email"] as? String) == "a-member@example.com" }, members.text)
        let invitations = try await api.get("/api/v1/invitations?limit=200", token: bToken)
        XCTAssertEqual(invitations.code, 200, invitations.text)
        XCTAssertFalse(F.ids(invitations.items).contains(a.invitationID), invitations.text)
        let pending = try await api.get("/api/v1/invitations?status=pending", token: bToken)
        XCTAssertFalse(F.ids(pending.items).contains(a.invitationID), pending.text)
        if bIsAdmin {
            let keys = try await api.get("/api/v1/api-keys?include_revoked=true&limit=200", token: bToken)
            XCTAssertEqual(keys.code, 200, keys.text)
            XCTAssertFalse(F.ids(keys.items).contains(a.keyID), keys.text)
            let audit = try await api.get("/api/v1/audit/logs?limit=200", token: bToken)
            XCTAssertEqual(audit.code, 200, audit.text)
            XCTAssertTrue(Set(F.ids(audit.items)).isDisjoint(with: a.auditIDs), "B's audit log must not show A's entries")
            for filter in ["object_id=\(a.memberID)", "object_id=\(a.keyID)", "actor_id=\(a.memberUserID)", "object_type=api_key"] {
                let f = try await api.get("/api/v1/audit/logs?\(filter)", token: bToken)
                XCTAssertEqual(f.code, 200, f.text)
                XCTAssertTrue(Set(F.ids(f.items)).isDisjoint(with: a.auditIDs), "\(filter): \(f.text)")
            }
        }
    }

    func testSeparateSignupsAreIsolated() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await TenantIsolationTests.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            XCTAssertNotEqual(a.owner.workspaceID, b.workspaceID)
            try await TenantIsolationTests.runIsolationChecks(api, a: a, bToken: b.accessToken, bIsAdmin: true)

            // A's user ids are not members of B: reassigning to one is a bad query parameter.
            _ = try await api.addMember(b.accessToken, email: "b-member@example.com", role: "member")
            let bMemberID = try await F.memberID(api, b.accessToken, email: "b-member@example.com")
            let reassign = try await api.delete("/api/v1/members/\(bMemberID)?reassign_to=\(a.memberUserID)", token: b.accessToken)
            XCTAssertEqual(reassign.code, 400, reassign.text)
            let bMember = try await F.member(api, b.accessToken, email: "b-member@example.com")
            XCTAssertNotNil(bMember, "a refused removal must not remove")
            // B cannot switch into A, nor log in to it.
            let sw = try await api.post("/api/v1/auth/switch-workspace", token: b.accessToken, json: ["workspace_id": a.owner.workspaceID])
            XCTAssertEqual(sw.code, 422, sw.text)
            let login = try await api.login(email: "b-owner@example.com", workspaceID: a.owner.workspaceID)
            XCTAssertEqual(login.code, 422, login.text)

            try await TenantIsolationTests.assertAUntouched(api, a)
        }
    }

    func testAPIKeyOfAnotherWorkspaceSeesNothing() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await TenantIsolationTests.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            let bKey = try await F.createKey(api, b.accessToken, scopes: ["*"])
            try await TenantIsolationTests.runIsolationChecks(api, a: a, bToken: bKey.secret, bIsAdmin: false)
            // Audit entries by id through B's key.
            for id in a.auditIDs.prefix(3) {
                TenantIsolationTests.assert404(try await api.get("/api/v1/audit/logs/\(id)", token: bKey.secret), "key GET audit \(id)")
            }
            let audit = try await api.get("/api/v1/audit/logs?limit=200", token: bKey.secret)
            XCTAssertEqual(audit.code, 200, audit.text)
            XCTAssertTrue(Set(F.ids(audit.items)).isDisjoint(with: a.auditIDs))
            let ws = try await api.get("/api/v1/workspace", token: bKey.secret)
            XCTAssertEqual(ws.data["id"] as? String, b.workspaceID)
            try await TenantIsolationTests.assertAUntouched(api, a)
        }
    }

    func testSameUserInTwoWorkspacesSeesOnlyTheCurrentOne() async throws {
        try await withApp { api, _ in
            let a = try await TenantIsolationTests.seedA(api)
            // A's owner creates B and switches into it: the token for B must not reach A's rows.
            let created = try await api.post("/api/v1/workspaces", token: a.owner.accessToken, json: ["name": "Beta"])
            XCTAssertEqual(created.code, 201, created.text)
            let sw = try await api.post("/api/v1/auth/switch-workspace", token: a.owner.accessToken, json: ["workspace_id": created.data["id"] as? String ?? ""])
            XCTAssertEqual(sw.code, 200, sw.text)
            let bToken = Session(sw).accessToken
            try await TenantIsolationTests.runIsolationChecks(api, a: a, bToken: bToken, bIsAdmin: true)
            let members = try await F.members(api, bToken)
            XCTAssertEqual(members.compactMap { $0["email"] as? String }, ["a-owner@example.com"])
            try await TenantIsolationTests.assertAUntouched(api, a)
        }
    }

    func testInvitationAcceptanceJoinsOnlyItsWorkspace() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await TenantIsolationTests.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            let acc = try await api.post("/api/v1/invitations/accept", json: ["token": a.invitationToken, "name": "Invitee", "password": F.password])
            XCTAssertEqual(acc.code, 200, acc.text)
            XCTAssertEqual(Session(acc).workspaceID, a.owner.workspaceID)
            let bMembers = try await F.members(api, b.accessToken)
            XCTAssertEqual(bMembers.compactMap { $0["email"] as? String }, ["b-owner@example.com"])
            let mine = try await api.get("/api/v1/workspaces", token: Session(acc).accessToken)
            XCTAssertEqual(F.ids(mine.items), [a.owner.workspaceID])
        }
    }
}
