import Foundation
import KeelCore
import XCTest

final class InvitationsTests: XCTestCase {
    typealias F = IdentityFixtures

    static func lookup(_ api: API, _ token: String) async throws -> TestResponse {
        try await api.get("/api/v1/invitations/lookup?token=\(token)")
    }

    static func accept(_ api: API, _ token: String, name: String? = "New Person", password: String? = IdentityFixtures.password) async throws -> TestResponse {
        var body: [String: Any] = ["token": token]
        if let name { body["name"] = name }
        if let password { body["password"] = password }
        return try await api.post("/api/v1/invitations/accept", json: body)
    }

    static func pending(_ api: API, _ token: String) async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/invitations?status=pending", token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r.items
    }

    func testCreateInvitation() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let r = try await api.post("/api/v1/invitations", token: owner.accessToken, json: ["email": "  New.Person@Example.COM ", "role": "member"])
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("inv_"), r.text)
            XCTAssertEqual(r.header("Location"), "/api/v1/invitations/\(id)")
            XCTAssertEqual(r.data["email"] as? String, "new.person@example.com")
            XCTAssertEqual(r.data["role"] as? String, "member")
            XCTAssertEqual(r.data["status"] as? String, "pending")
            let url = r.data["accept_url"] as? String ?? ""
            XCTAssertTrue(url.contains("token="), r.text)
            XCTAssertFalse(F.token(fromAcceptURL: url).isEmpty)
            XCTAssertNotNil(r.data["expires_at"] as? String)
            let ownerID = try await F.userID(api, owner.accessToken)
            XCTAssertEqual(r.data["invited_by"] as? String, ownerID)

            let get = try await api.get("/api/v1/invitations/\(id)", token: owner.accessToken)
            XCTAssertEqual(get.code, 200, get.text)
            XCTAssertEqual(get.data["status"] as? String, "pending")
            XCTAssertTrue(F.isNull(get.data["accept_url"]), "the accept link is only returned when issued: \(get.text)")
        }
    }

    func testDuplicatePendingInvitationIs409() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let first = try await F.invite(api, owner.accessToken, email: "dup@example.com")
            let again = try await api.post("/api/v1/invitations", token: owner.accessToken, json: ["email": "DUP@example.com", "role": "viewer"])
            XCTAssertEqual(again.code, 409, again.text)
            XCTAssertEqual(again.errorCode, "duplicate")
            XCTAssertEqual(again.errorDetails.first?["existing_id"] as? String, first.id, again.text)
            let list = try await InvitationsTests.pending(api, owner.accessToken)
            XCTAssertEqual(F.ids(list), [first.id])
            XCTAssertEqual(list.first?["role"] as? String, "member", "the duplicate must not overwrite the role")
        }
    }

    func testInvitingAnExistingMemberIs409() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            _ = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            for email in ["owner@example.com", "Member@Example.com"] {
                let r = try await api.post("/api/v1/invitations", token: owner.accessToken, json: ["email": email, "role": "viewer"])
                XCTAssertEqual(r.code, 409, "\(email): \(r.text)")
                XCTAssertEqual(r.errorCode, "duplicate")
            }
            let list = try await InvitationsTests.pending(api, owner.accessToken)
            XCTAssertTrue(list.isEmpty, "\(list)")
            let role = try await F.role(api, owner.accessToken, email: "member@example.com")
            XCTAssertEqual(role, "member")
        }
    }

    func testListFilters() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let a = try await F.invite(api, owner.accessToken, email: "a@example.com")
            let b = try await F.invite(api, owner.accessToken, email: "b@example.com", role: "viewer")
            let c = try await F.invite(api, owner.accessToken, email: "c@example.com", role: "admin")
            let cancel = try await api.delete("/api/v1/invitations/\(b.id)", token: owner.accessToken)
            XCTAssertEqual(cancel.code, 204, cancel.text)
            let accepted = try await InvitationsTests.accept(api, c.token)
            XCTAssertEqual(accepted.code, 200, accepted.text)

            let pending = try await InvitationsTests.pending(api, owner.accessToken)
            XCTAssertEqual(F.ids(pending), [a.id])
            let cancelled = try await api.get("/api/v1/invitations?status=cancelled", token: owner.accessToken)
            XCTAssertEqual(F.ids(cancelled.items), [b.id])
            XCTAssertEqual(cancelled.items.first?["status"] as? String, "cancelled")
            let acc = try await api.get("/api/v1/invitations?status=accepted", token: owner.accessToken)
            XCTAssertEqual(F.ids(acc.items), [c.id])
            XCTAssertEqual(acc.items.first?["status"] as? String, "accepted")
            let all = try await api.get("/api/v1/invitations", token: owner.accessToken)
            XCTAssertEqual(Set(F.ids(all.items)), [a.id, b.id, c.id])
            for item in all.items { XCTAssertTrue(F.isNull(item["accept_url"]), "lists never carry tokens: \(item)") }
            XCTAssertFalse(all.text.contains(a.token), "lists never carry tokens")

            let bad = try await api.get("/api/v1/invitations?status=open", token: owner.accessToken)
            XCTAssertEqual(bad.code, 400, bad.text)
            XCTAssertEqual(bad.errorCode, "bad_request")

            // Pagination over invitations.
            let p1 = try await api.get("/api/v1/invitations?limit=2", token: owner.accessToken)
            XCTAssertEqual(p1.items.count, 2)
            guard let cursor = F.nextCursor(p1) else { return XCTFail("expected a cursor: \(p1.text)") }
            let p2 = try await api.get("/api/v1/invitations?limit=2&cursor=\(cursor)", token: owner.accessToken)
            XCTAssertEqual(p2.code, 200, p2.text)
            XCTAssertEqual(Set(F.ids(p1.items) + F.ids(p2.items)), [a.id, b.id, c.id])
            XCTAssertEqual(F.ids(p1.items).count + F.ids(p2.items).count, 3)
            let mixed = try await api.get("/api/v1/invitations?limit=2&status=pending&cursor=\(cursor)", token: owner.accessToken)
            XCTAssertEqual(mixed.code, 400, mixed.text)
        }
    }

    func testLookupWithoutAuth() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let inv = try await F.invite(api, owner.accessToken, email: "guest@example.com", role: "viewer")
            let r = try await InvitationsTests.lookup(api, inv.token)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["id"] as? String, inv.id)
            XCTAssertEqual(r.data["email"] as? String, "guest@example.com")
            XCTAssertEqual(r.data["role"] as? String, "viewer")
            XCTAssertNotNil(r.data["expires_at"] as? String)
            let ws = r.data["workspace"] as? [String: Any] ?? [:]
            XCTAssertEqual(ws["name"] as? String, "Acme")
            XCTAssertEqual(ws["id"] as? String, owner.workspaceID)
            let inviter = r.data["inviter"] as? [String: Any] ?? [:]
            XCTAssertEqual(inviter["email"] as? String, "owner@example.com")
            XCTAssertEqual(inviter["name"] as? String, "Owner")

            // Bad tokens: garbage, a tampered signature, a tampered payload, missing.
            let garbage = try await InvitationsTests.lookup(api, "garbage")
            XCTAssertEqual(garbage.code, 404, garbage.text)
            XCTAssertEqual(garbage.errorCode, "not_found")
            let parts = inv.token.split(separator: ".").map(String.init)
            XCTAssertEqual(parts.count, 2)
            var sig = Array(parts[1])
            sig[0] = sig[0] == "A" ? "B" : "A"
            let badSig = try await InvitationsTests.lookup(api, parts[0] + "." + String(sig))
            XCTAssertEqual(badSig.code, 404, badSig.text)
            var payload = Array(parts[0])
            payload[3] = payload[3] == "A" ? "B" : "A"
            let badPayload = try await InvitationsTests.lookup(api, String(payload) + "." + parts[1])
            XCTAssertEqual(badPayload.code, 404, badPayload.text)
            let missing = try await api.get("/api/v1/invitations/lookup")
            XCTAssertEqual(missing.code, 400, missing.text)
        }
    }

    func testAcceptAsNewUser() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let inv = try await F.invite(api, owner.accessToken, email: "new@example.com", role: "member")

            // Bad input first: no password for a new account, a short password, an unknown field.
            let noPassword = try await InvitationsTests.accept(api, inv.token, password: nil)
            XCTAssertEqual(noPassword.code, 422, noPassword.text)
            XCTAssertTrue(F.detailFields(noPassword).contains("password"), noPassword.text)
            let short = try await InvitationsTests.accept(api, inv.token, password: "short")
            XCTAssertEqual(short.code, 422, short.text)
            let unknown = try await api.post("/api/v1/invitations/accept", json: ["token": inv.token, "password": F.password, "role": "owner"])
            XCTAssertEqual(unknown.code, 422, unknown.text)
            let stillPending = try await InvitationsTests.pending(api, owner.accessToken)
            XCTAssertEqual(F.ids(stillPending), [inv.id], "failed accepts must leave the invitation pending")
            let noAccount = try await api.login(email: "new@example.com")
            XCTAssertEqual(noAccount.code, 401, noAccount.text)

            let r = try await InvitationsTests.accept(api, inv.token, name: "New Person")
            XCTAssertEqual(r.code, 200, r.text)
            let s = Session(r)
            XCTAssertFalse(s.accessToken.isEmpty, r.text)
            XCTAssertTrue(s.refreshToken.hasPrefix("rt_"), r.text)
            XCTAssertEqual(s.workspaceID, owner.workspaceID)
            XCTAssertEqual((r.data["workspace"] as? [String: Any])?["role"] as? String, "member")
            let me = try await api.get("/api/v1/users/me", token: s.accessToken)
            XCTAssertEqual(me.data["email"] as? String, "new@example.com")
            XCTAssertEqual(me.data["name"] as? String, "New Person")
            let role = try await F.role(api, owner.accessToken, email: "new@example.com")
            XCTAssertEqual(role, "member")
            let login = try await api.login(email: "new@example.com")
            XCTAssertEqual(login.code, 200, login.text)

            // Single use.
            let reuse = try await InvitationsTests.accept(api, inv.token)
            XCTAssertEqual(reuse.code, 422, reuse.text)
            XCTAssertEqual(reuse.errorCode, "validation_failed")
            let lookup = try await InvitationsTests.lookup(api, inv.token)
            XCTAssertEqual(lookup.code, 404, lookup.text)
            let get = try await api.get("/api/v1/invitations/\(inv.id)", token: owner.accessToken)
            XCTAssertEqual(get.data["status"] as? String, "accepted")
            XCTAssertFalse(F.isNull(get.data["accepted_at"]), get.text)
            let members = try await F.members(api, owner.accessToken)
            XCTAssertEqual(members.count, 2)
        }
    }

    func testResendIssuesANewTokenAndKillsTheOld() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let inv = try await F.invite(api, owner.accessToken, email: "late@example.com", role: "viewer")
            let r = try await api.post("/api/v1/invitations/\(inv.id)/resend", token: owner.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["id"] as? String, inv.id)
            XCTAssertEqual(r.data["status"] as? String, "pending")
            let newToken = F.token(fromAcceptURL: r.data["accept_url"] as? String ?? "")
            XCTAssertFalse(newToken.isEmpty, r.text)
            XCTAssertNotEqual(newToken, inv.token)

            let oldLookup = try await InvitationsTests.lookup(api, inv.token)
            XCTAssertEqual(oldLookup.code, 404, oldLookup.text)
            let oldAccept = try await InvitationsTests.accept(api, inv.token)
            XCTAssertEqual(oldAccept.code, 422, oldAccept.text)
            let noAccount = try await api.login(email: "late@example.com")
            XCTAssertEqual(noAccount.code, 401, "a dead token must not create the account: \(noAccount.text)")

            let newLookup = try await InvitationsTests.lookup(api, newToken)
            XCTAssertEqual(newLookup.code, 200, newLookup.text)
            XCTAssertEqual(newLookup.data["role"] as? String, "viewer")
            let ok = try await InvitationsTests.accept(api, newToken)
            XCTAssertEqual(ok.code, 200, ok.text)
            let role = try await F.role(api, owner.accessToken, email: "late@example.com")
            XCTAssertEqual(role, "viewer")

            // An accepted invitation cannot be resent.
            let resendAccepted = try await api.post("/api/v1/invitations/\(inv.id)/resend", token: owner.accessToken)
            XCTAssertEqual(resendAccepted.code, 409, resendAccepted.text)
        }
    }

    func testCancelThenAcceptFails() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let inv = try await F.invite(api, owner.accessToken, email: "gone@example.com")
            let cancel = try await api.delete("/api/v1/invitations/\(inv.id)", token: owner.accessToken)
            XCTAssertEqual(cancel.code, 204, cancel.text)
            XCTAssertTrue(cancel.text.isEmpty)

            let accept = try await InvitationsTests.accept(api, inv.token)
            XCTAssertEqual(accept.code, 422, accept.text)
            XCTAssertEqual(accept.errorCode, "validation_failed")
            let lookup = try await InvitationsTests.lookup(api, inv.token)
            XCTAssertEqual(lookup.code, 404, lookup.text)
            let login = try await api.login(email: "gone@example.com")
            XCTAssertEqual(login.code, 401, login.text)
            let get = try await api.get("/api/v1/invitations/\(inv.id)", token: owner.accessToken)
            XCTAssertEqual(get.data["status"] as? String, "cancelled")
            XCTAssertFalse(F.isNull(get.data["cancelled_at"]), get.text)
            let again = try await api.delete("/api/v1/invitations/\(inv.id)", token: owner.accessToken)
            XCTAssertEqual(again.code, 409, again.text)
            let resend = try await api.post("/api/v1/invitations/\(inv.id)/resend", token: owner.accessToken)
            XCTAssertEqual(resend.code, 409, "a cancelled invitation stays cancelled: \(resend.text)")
            // After cancelling, the same address may be invited afresh.
            let fresh = try await api.post("/api/v1/invitations", token: owner.accessToken, json: ["email": "gone@example.com", "role": "member"])
            XCTAssertEqual(fresh.code, 201, fresh.text)
        }
    }

    func testOnlyAdminsInvite() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let viewer = try await api.addMember(owner.accessToken, email: "viewer@example.com", role: "viewer")
            let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
            let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
            for (s, label) in [(viewer, "viewer"), (member, "member")] {
                let r = try await api.post("/api/v1/invitations", token: s.accessToken, json: ["email": "x-\(label)@example.com", "role": "viewer"])
                XCTAssertEqual(r.code, 403, "\(label): \(r.text)")
                XCTAssertEqual(r.errorCode, "forbidden")
                let read = try await api.get("/api/v1/invitations", token: s.accessToken)
                XCTAssertEqual(read.code, 200, "\(label) may read invitations (members:read): \(read.text)")
            }
            // An admin may invite, but not an owner.
            let ownerInvite = try await api.post("/api/v1/invitations", token: admin.accessToken, json: ["email": "boss@example.com", "role": "owner"])
            XCTAssertEqual(ownerInvite.code, 403, ownerInvite.text)
            let list = try await InvitationsTests.pending(api, owner.accessToken)
            XCTAssertTrue(list.isEmpty, "\(list)")
            let adminInvite = try await api.post("/api/v1/invitations", token: admin.accessToken, json: ["email": "ok@example.com", "role": "admin"])
            XCTAssertEqual(adminInvite.code, 201, adminInvite.text)
            let byOwner = try await api.post("/api/v1/invitations", token: owner.accessToken, json: ["email": "co-owner@example.com", "role": "owner"])
            XCTAssertEqual(byOwner.code, 201, byOwner.text)
            // Members cannot cancel or resend.
            let inviteID = adminInvite.data["id"] as? String ?? ""
            let cancel = try await api.delete("/api/v1/invitations/\(inviteID)", token: member.accessToken)
            XCTAssertEqual(cancel.code, 403, cancel.text)
            let resend = try await api.post("/api/v1/invitations/\(inviteID)/resend", token: member.accessToken)
            XCTAssertEqual(resend.code, 403, resend.text)
            let get = try await api.get("/api/v1/invitations/\(inviteID)", token: owner.accessToken)
            XCTAssertEqual(get.data["status"] as? String, "pending")
        }
    }

    func testInvalidInvitationBodies() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let cases: [([String: Any], String)] = [
                (["email": "x@example.com", "role": "superuser"], "role"),
                (["email": "x@example.com"], "role"),
                (["email": "not-an-email", "role": "member"], "email"),
                (["role": "member"], "email"),
                (["email": "x@example.com", "role": "member", "message": "hi"], "message"),
                (["email": 42, "role": "member"], "email"),
            ]
            for (body, field) in cases {
                let r = try await api.post("/api/v1/invitations", token: owner.accessToken, json: body)
                XCTAssertEqual(r.code, 422, "\(body): \(r.text)")
                XCTAssertEqual(r.errorCode, "validation_failed")
                XCTAssertTrue(F.detailFields(r).contains(field), "\(body) should name \(field): \(r.text)")
            }
            let all = try await api.get("/api/v1/invitations", token: owner.accessToken)
            XCTAssertTrue(all.items.isEmpty, all.text)
            let bogusID = try await api.get("/api/v1/invitations/\(InvitationID.generate().rawValue)", token: owner.accessToken)
            XCTAssertEqual(bogusID.code, 404, bogusID.text)
            let wrongPrefix = try await api.delete("/api/v1/invitations/mem_01HZZZZZZZZZZZZZZZZZZZZZZZ", token: owner.accessToken)
            XCTAssertEqual(wrongPrefix.code, 404, wrongPrefix.text)
        }
    }

    func testExistingUserAcceptsWithoutTokens() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let owner = try await api.signup()
            let other = try await api.signup(email: "other@example.com", workspace: "Beta")
            let inv = try await F.invite(api, owner.accessToken, email: "other@example.com", role: "member")

            let r = try await api.post("/api/v1/invitations/accept", json: ["token": inv.token])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertNil(r.data["access_token"], "an existing user gets no tokens: \(r.text)")
            XCTAssertNil(r.data["refresh_token"])
            let member = r.data["member"] as? [String: Any] ?? [:]
            XCTAssertEqual(member["email"] as? String, "other@example.com")
            XCTAssertEqual(member["role"] as? String, "member")
            XCTAssertTrue((member["id"] as? String)?.hasPrefix("mem_") == true, r.text)
            let ws = r.data["workspace"] as? [String: Any] ?? [:]
            XCTAssertEqual(ws["id"] as? String, owner.workspaceID)
            XCTAssertEqual(ws["name"] as? String, "Acme")

            // Their password is untouched and they now have two workspaces.
            let mine = try await api.get("/api/v1/workspaces", token: other.accessToken)
            XCTAssertEqual(Set(F.ids(mine.items)), [owner.workspaceID, other.workspaceID])
            let login = try await api.login(email: "other@example.com", workspaceID: owner.workspaceID)
            XCTAssertEqual(login.code, 200, login.text)
            XCTAssertEqual((login.data["workspace"] as? [String: Any])?["role"] as? String, "member")
            let role = try await F.role(api, owner.accessToken, email: "other@example.com")
            XCTAssertEqual(role, "member")

            // A password supplied by whoever holds the link must not replace the existing account's password.
            let inv2 = try await F.invite(api, other.accessToken, email: "owner@example.com", role: "viewer")
            let hijack = try await api.post("/api/v1/invitations/accept", json: ["token": inv2.token, "password": "attacker password"])
            XCTAssertEqual(hijack.code, 200, hijack.text)
            XCTAssertNil(hijack.data["access_token"], hijack.text)
            let attacker = try await api.login(email: "owner@example.com", password: "attacker password")
            XCTAssertEqual(attacker.code, 401, attacker.text)
            let real = try await api.login(email: "owner@example.com")
            XCTAssertEqual(real.code, 200, real.text)
        }
    }

    func testInvitationEmailWithQuotesIsStoredVerbatim() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let email = "o'brien+test@example.com"
            let r = try await api.post("/api/v1/invitations", token: owner.accessToken, json: ["email": email, "role": "member"])
            XCTAssertEqual(r.code, 201, r.text)
            XCTAssertEqual(r.data["email"] as? String, email)
            let list = try await InvitationsTests.pending(api, owner.accessToken)
            XCTAssertEqual(list.first?["email"] as? String, email)
            let token = F.token(fromAcceptURL: r.data["accept_url"] as? String ?? "")
            let acc = try await InvitationsTests.accept(api, token, name: "Robert'); DROP TABLE users;--")
            XCTAssertEqual(acc.code, 200, acc.text)
            let login = try await api.login(email: email)
            XCTAssertEqual(login.code, 200, login.text)
        }
    }
}
