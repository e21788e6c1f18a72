import Foundation
import KeelCore
import XCTest

final class MembersTests: XCTestCase {
    typealias F = IdentityFixtures

    /// Owner plus a member and a viewer: three members in all.
    static func team(_ api: API) async throws -> (owner: Session, member: Session, viewer: Session) {
        let owner = try await api.signup()
        let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
        let viewer = try await api.addMember(owner.accessToken, email: "viewer@example.com", role: "viewer")
        return (owner, member, viewer)
    }

    func testListShape() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let r = try await api.get("/api/v1/members", token: t.viewer.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.items.count, 3)
            XCTAssertEqual(F.hasMore(r), false)
            XCTAssertTrue(F.isNull(r.json["next_cursor"]), r.text)
            XCTAssertNil(r.json["total"], "total only when include_total=true")
            let byEmail = Dictionary(uniqueKeysWithValues: r.items.map { ($0["email"] as? String ?? "", $0) })
            XCTAssertEqual(byEmail["owner@example.com"]?["role"] as? String, "owner")
            XCTAssertEqual(byEmail["member@example.com"]?["role"] as? String, "member")
            XCTAssertEqual(byEmail["viewer@example.com"]?["role"] as? String, "viewer")
            for item in r.items {
                XCTAssertTrue((item["id"] as? String)?.hasPrefix("mem_") == true, "\(item)")
                XCTAssertTrue((item["user_id"] as? String)?.hasPrefix("usr_") == true, "\(item)")
                XCTAssertEqual(item["version"] as? Int, 1)
                XCTAssertNil(item["password_hash"])
            }
        }
    }

    func testCursorPaginationVisitsEveryMemberOnce() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let all = Set(F.ids(try await F.members(api, t.owner.accessToken)))
            XCTAssertEqual(all.count, 3)
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let path = "/api/v1/members?limit=1" + (cursor.map { "&cursor=\($0)" } ?? "")
                let r = try await api.get(path, token: t.owner.accessToken)
                XCTAssertEqual(r.code, 200, r.text)
                XCTAssertEqual(r.items.count, 1, r.text)
                seen += F.ids(r.items)
                cursor = F.nextCursor(r)
                XCTAssertEqual(F.hasMore(r), cursor != nil, r.text)
                pages += 1
            } while cursor != nil && pages < 10
            XCTAssertEqual(pages, 3)
            XCTAssertEqual(seen.count, 3, "no repeats: \(seen)")
            XCTAssertEqual(Set(seen), all, "no skips")
        }
    }

    func testPaginationStableUnderInsertsDuringPaging() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let before = Set(F.ids(try await F.members(api, t.owner.accessToken)))
            let first = try await api.get("/api/v1/members?limit=1", token: t.owner.accessToken)
            var seen = F.ids(first.items)
            // A new member joins while paging.
            _ = try await api.addMember(t.owner.accessToken, email: "late@example.com", role: "viewer")
            var cursor = F.nextCursor(first)
            var guardCount = 0
            while let c = cursor, guardCount < 10 {
                let r = try await api.get("/api/v1/members?limit=1&cursor=\(c)", token: t.owner.accessToken)
                XCTAssertEqual(r.code, 200, r.text)
                seen += F.ids(r.items)
                cursor = F.nextCursor(r)
                guardCount += 1
            }
            XCTAssertEqual(seen.count, Set(seen).count, "a page never repeats a row: \(seen)")
            XCTAssertTrue(before.isSubset(of: Set(seen)), "a page never skips a row that existed when paging began")
        }
    }

    func testLimitAndCursorValidation() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            for limit in ["0", "201", "-1", "abc", "1.5"] {
                let r = try await api.get("/api/v1/members?limit=\(limit)", token: t.owner.accessToken)
                XCTAssertEqual(r.code, 400, "limit=\(limit): \(r.text)")
                XCTAssertEqual(r.errorCode, "bad_request")
            }
            let max = try await api.get("/api/v1/members?limit=200", token: t.owner.accessToken)
            XCTAssertEqual(max.code, 200, max.text)
            let min = try await api.get("/api/v1/members?limit=1", token: t.owner.accessToken)
            XCTAssertEqual(min.code, 200, min.text)
            guard let cursor = F.nextCursor(min) else { return XCTFail("expected a next_cursor: \(min.text)") }

            // Tampered: one character of the payload changed, keeping the signature.
            var chars = Array(cursor)
            chars[2] = chars[2] == "A" ? "B" : "A"
            let tampered = try await api.get("/api/v1/members?limit=1&cursor=\(String(chars))", token: t.owner.accessToken)
            XCTAssertEqual(tampered.code, 400, tampered.text)
            XCTAssertEqual(tampered.errorCode, "bad_request")
            for garbage in ["garbage", "abc.def", "x"] {
                let r = try await api.get("/api/v1/members?cursor=\(garbage)", token: t.owner.accessToken)
                XCTAssertEqual(r.code, 400, "cursor=\(garbage): \(r.text)")
            }
            // A cursor from one query reused with another filter.
            let other = try await api.get("/api/v1/members?limit=1&role=member&cursor=\(cursor)", token: t.owner.accessToken)
            XCTAssertEqual(other.code, 400, other.text)
            XCTAssertEqual(other.errorCode, "bad_request")
            // The untampered cursor still works with its own query.
            let next = try await api.get("/api/v1/members?limit=1&cursor=\(cursor)", token: t.owner.accessToken)
            XCTAssertEqual(next.code, 200, next.text)
        }
    }

    func testRoleFilter() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            _ = try await api.addMember(t.owner.accessToken, email: "viewer2@example.com", role: "viewer")
            let viewers = try await api.get("/api/v1/members?role=viewer", token: t.owner.accessToken)
            XCTAssertEqual(viewers.code, 200, viewers.text)
            XCTAssertEqual(Set(viewers.items.compactMap { $0["email"] as? String }), ["viewer@example.com", "viewer2@example.com"])
            let owners = try await api.get("/api/v1/members?role=owner", token: t.owner.accessToken)
            XCTAssertEqual(owners.items.compactMap { $0["email"] as? String }, ["owner@example.com"])
            let bad = try await api.get("/api/v1/members?role=superuser", token: t.owner.accessToken)
            XCTAssertEqual(bad.code, 400, bad.text)
            XCTAssertEqual(bad.errorCode, "bad_request")
        }
    }

    func testGetMember() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let memberID = try await F.memberID(api, t.owner.accessToken, email: "member@example.com")
            let r = try await api.get("/api/v1/members/\(memberID)", token: t.viewer.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual(r.data["id"] as? String, memberID)
            XCTAssertEqual(r.data["email"] as? String, "member@example.com")
            XCTAssertEqual(r.data["role"] as? String, "member")
            XCTAssertEqual(r.header("ETag"), "\"1\"")

            let userID = try await F.userID(api, t.member.accessToken)
            XCTAssertEqual(r.data["user_id"] as? String, userID)
            for bad in ["mem_nope", userID, MemberID.generate().rawValue, "1", "%27%20OR%201%3D1--"] {
                let nf = try await api.get("/api/v1/members/\(bad)", token: t.owner.accessToken)
                XCTAssertEqual(nf.code, 404, "\(bad): \(nf.text)")
                XCTAssertEqual(nf.errorCode, "not_found")
            }
            let anonymous = try await api.get("/api/v1/members/\(memberID)")
            XCTAssertEqual(anonymous.code, 401, anonymous.text)
        }
    }

    func testAdminChangesRoles() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let admin = try await api.addMember(t.owner.accessToken, email: "admin@example.com", role: "admin")
            let memberID = try await F.memberID(api, t.owner.accessToken, email: "member@example.com")

            let down = try await api.patch("/api/v1/members/\(memberID)", token: admin.accessToken, json: ["role": "viewer"])
            XCTAssertEqual(down.code, 200, down.text)
            XCTAssertEqual(down.data["role"] as? String, "viewer")
            XCTAssertEqual(down.data["version"] as? Int, 2)
            XCTAssertEqual(down.header("ETag"), "\"2\"")
            // The demoted member's session follows at once.
            let write = try await api.get("/api/v1/workspace", token: t.member.accessToken)
            XCTAssertEqual(write.data["role"] as? String, "viewer", write.text)

            let up = try await api.patch("/api/v1/members/\(memberID)", token: admin.accessToken, json: ["role": "member"], headers: ["If-Match": "\"2\""])
            XCTAssertEqual(up.code, 200, up.text)
            XCTAssertEqual(up.data["role"] as? String, "member")
            XCTAssertEqual(up.data["version"] as? Int, 3)

            let stale = try await api.patch("/api/v1/members/\(memberID)", token: admin.accessToken, json: ["role": "viewer"], headers: ["If-Match": "\"2\""])
            XCTAssertEqual(stale.code, 409, stale.text)
            XCTAssertEqual(stale.errorCode, "version_conflict")
            let staleBody = try await api.patch("/api/v1/members/\(memberID)", token: admin.accessToken, json: ["role": "viewer", "version": 1])
            XCTAssertEqual(staleBody.code, 409, staleBody.text)
            let role = try await F.role(api, t.owner.accessToken, email: "member@example.com")
            XCTAssertEqual(role, "member")
        }
    }

    func testRoleChangeLimits() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let admin = try await api.addMember(t.owner.accessToken, email: "admin@example.com", role: "admin")
            let memberID = try await F.memberID(api, t.owner.accessToken, email: "member@example.com")
            let ownerID = try await F.memberID(api, t.owner.accessToken, email: "owner@example.com")
            let adminID = try await F.memberID(api, t.owner.accessToken, email: "admin@example.com")

            // An admin cannot grant owner (to others or to themselves), nor demote an owner.
            for (target, role) in [(memberID, "owner"), (adminID, "owner"), (ownerID, "admin")] {
                let r = try await api.patch("/api/v1/members/\(target)", token: admin.accessToken, json: ["role": role])
                XCTAssertEqual(r.code, 403, "\(target) → \(role): \(r.text)")
                XCTAssertEqual(r.errorCode, "forbidden")
            }
            // Members and viewers cannot change roles at all.
            for session in [t.member, t.viewer] {
                let r = try await api.patch("/api/v1/members/\(memberID)", token: session.accessToken, json: ["role": "viewer"])
                XCTAssertEqual(r.code, 403, r.text)
            }
            // The last owner cannot be demoted, even by themselves.
            let selfDemote = try await api.patch("/api/v1/members/\(ownerID)", token: t.owner.accessToken, json: ["role": "admin"])
            XCTAssertEqual(selfDemote.code, 409, selfDemote.text)
            XCTAssertEqual(selfDemote.errorCode, "conflict")
            // Invalid role values.
            let bad = try await api.patch("/api/v1/members/\(memberID)", token: t.owner.accessToken, json: ["role": "superuser"])
            XCTAssertEqual(bad.code, 422, bad.text)
            XCTAssertEqual(bad.errorCode, "validation_failed")
            let extra = try await api.patch("/api/v1/members/\(memberID)", token: t.owner.accessToken, json: ["role": "viewer", "email": "x@y.com"])
            XCTAssertEqual(extra.code, 422, extra.text)

            // Nothing changed.
            let roles = Dictionary(uniqueKeysWithValues: try await F.members(api, t.owner.accessToken).map {
                ($0["email"] as? String ?? "", $0["role"] as? String ?? "")
            })
            XCTAssertEqual(roles, ["owner@example.com": "owner", "admin@example.com": "admin", "member@example.com": "member",
                                   "viewer@example.com": "viewer"])

            // With a second owner, the first may step down.
            let promote = try await api.patch("/api/v1/members/\(adminID)", token: t.owner.accessToken, json: ["role": "owner"])
            XCTAssertEqual(promote.code, 200, promote.text)
            let stepDown = try await api.patch("/api/v1/members/\(ownerID)", token: t.owner.accessToken, json: ["role": "admin"])
            XCTAssertEqual(stepDown.code, 200, stepDown.text)
            XCTAssertEqual(stepDown.data["role"] as? String, "admin")
            // And now the remaining owner is the last one.
            let last = try await api.patch("/api/v1/members/\(adminID)", token: admin.accessToken, json: ["role": "member"])
            XCTAssertEqual(last.code, 409, last.text)
        }
    }

    func testRemoveWithInvalidReassignTarget() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let t = try await MembersTests.team(api)
            let outsider = try await api.signup(email: "outsider@example.com", workspace: "Other")
            let outsiderUser = try await F.userID(api, outsider.accessToken)
            let memberID = try await F.memberID(api, t.owner.accessToken, email: "member@example.com")
            let memberUser = try await F.userID(api, t.member.accessToken)

            for heir in [outsiderUser, UserID.generate().rawValue, memberUser, "bob", memberID] {
                let r = try await api.delete("/api/v1/members/\(memberID)?reassign_to=\(heir)", token: t.owner.accessToken)
                XCTAssertEqual(r.code, 400, "reassign_to=\(heir): \(r.text)")
                XCTAssertEqual(r.errorCode, "bad_request")
            }
            let survivor = try await F.member(api, t.owner.accessToken, email: "member@example.com")
            XCTAssertNotNil(survivor, "member must survive bad removals")
            let still = try await api.get("/api/v1/members", token: t.member.accessToken)
            XCTAssertEqual(still.code, 200, still.text)

            let ownerUser = try await F.userID(api, t.owner.accessToken)
            let ok = try await api.delete("/api/v1/members/\(memberID)?reassign_to=\(ownerUser)", token: t.owner.accessToken)
            XCTAssertEqual(ok.code, 204, ok.text)
            let removed = try await F.member(api, t.owner.accessToken, email: "member@example.com")
            XCTAssertNil(removed)
            let gone = try await api.get("/api/v1/members/\(memberID)", token: t.owner.accessToken)
            XCTAssertEqual(gone.code, 404, gone.text)
        }
    }

    func testBadReassignTargetIsReportedBeforeTheLastOwnerConflict() async throws {
        // api.md §7 order of checks: 400 (bad query parameter) comes before 409.
        try await withApp { api, _ in
            let owner = try await api.signup()
            let ownerID = try await F.memberID(api, owner.accessToken, email: "owner@example.com")
            let r = try await api.delete("/api/v1/members/\(ownerID)?reassign_to=\(UserID.generate().rawValue)", token: owner.accessToken)
            XCTAssertEqual(r.code, 400, r.text)
            XCTAssertEqual(r.errorCode, "bad_request")
            let role = try await F.role(api, owner.accessToken, email: "owner@example.com")
            XCTAssertEqual(role, "owner")
        }
    }

    func testSelfLeaveAsMember() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let memberID = try await F.memberID(api, t.owner.accessToken, email: "member@example.com")
            let viewerID = try await F.memberID(api, t.owner.accessToken, email: "viewer@example.com")
            // A member may leave but not remove others.
            let other = try await api.delete("/api/v1/members/\(viewerID)", token: t.member.accessToken)
            XCTAssertEqual(other.code, 403, other.text)
            let leave = try await api.delete("/api/v1/members/\(memberID)", token: t.member.accessToken)
            XCTAssertEqual(leave.code, 204, leave.text)
            let after = try await api.get("/api/v1/members", token: t.member.accessToken)
            XCTAssertEqual(after.code, 401, after.text)
            let emails = try await F.members(api, t.owner.accessToken).compactMap { $0["email"] as? String }
            XCTAssertEqual(Set(emails), ["owner@example.com", "viewer@example.com"])
            // A viewer may leave too.
            let viewerLeaves = try await api.delete("/api/v1/members/\(viewerID)", token: t.viewer.accessToken)
            XCTAssertEqual(viewerLeaves.code, 204, viewerLeaves.text)
        }
    }

    func testLastOwnerCannotLeaveOrBeRemoved() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let admin = try await api.addMember(t.owner.accessToken, email: "admin@example.com", role: "admin")
            let ownerID = try await F.memberID(api, t.owner.accessToken, email: "owner@example.com")

            let leave = try await api.delete("/api/v1/members/\(ownerID)", token: t.owner.accessToken)
            XCTAssertEqual(leave.code, 409, leave.text)
            XCTAssertEqual(leave.errorCode, "conflict")
            let byAdmin = try await api.delete("/api/v1/members/\(ownerID)", token: admin.accessToken)
            XCTAssertEqual(byAdmin.code, 403, byAdmin.text)
            let byViewer = try await api.delete("/api/v1/members/\(ownerID)", token: t.viewer.accessToken)
            XCTAssertEqual(byViewer.code, 403, byViewer.text)
            let role = try await F.role(api, t.owner.accessToken, email: "owner@example.com")
            XCTAssertEqual(role, "owner")
            let me = try await api.get("/api/v1/users/me", token: t.owner.accessToken)
            XCTAssertEqual(me.code, 200, me.text)
        }
    }

    func testRemovedMembersTokensStopWorking() async throws {
        try await withApp { api, _ in
            let t = try await MembersTests.team(api)
            let memberID = try await F.memberID(api, t.owner.accessToken, email: "member@example.com")
            let warm = try await api.get("/api/v1/members", token: t.member.accessToken)
            XCTAssertEqual(warm.code, 200, warm.text)
            let r = try await api.delete("/api/v1/members/\(memberID)", token: t.owner.accessToken)
            XCTAssertEqual(r.code, 204, r.text)
            XCTAssertTrue(r.text.isEmpty)
            let after = try await api.get("/api/v1/members", token: t.member.accessToken)
            XCTAssertEqual(after.code, 401, after.text)
            XCTAssertEqual(after.errorCode, "unauthenticated")
            let refresh = try await api.post("/api/v1/auth/refresh", json: ["refresh_token": t.member.refreshToken])
            XCTAssertEqual(refresh.code, 401, refresh.text)
            let again = try await api.delete("/api/v1/members/\(memberID)", token: t.owner.accessToken)
            XCTAssertEqual(again.code, 404, again.text)
        }
    }

    func testKeyFollowsItsCreatorsRole() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
            let adminID = try await F.memberID(api, owner.accessToken, email: "admin@example.com")
            let key = try await F.createKey(api, admin.accessToken, scopes: ["members:write"])

            let asAdmin = try await api.post("/api/v1/invitations", token: key.secret, json: ["email": "one@example.com", "role": "viewer"])
            XCTAssertEqual(asAdmin.code, 201, asAdmin.text)

            let demote = try await api.patch("/api/v1/members/\(adminID)", token: owner.accessToken, json: ["role": "member"])
            XCTAssertEqual(demote.code, 200, demote.text)

            let asMember = try await api.post("/api/v1/invitations", token: key.secret, json: ["email": "two@example.com", "role": "viewer"])
            XCTAssertEqual(asMember.code, 403, asMember.text)
            XCTAssertEqual(asMember.errorCode, "forbidden")
            XCTAssertTrue(F.detailScopes(asMember).contains("members:write"), asMember.text)
            let pending = try await api.get("/api/v1/invitations?status=pending", token: owner.accessToken)
            XCTAssertEqual(pending.items.compactMap { $0["email"] as? String }, ["one@example.com"])
            // Reading is still within the member role.
            let read = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(read.code, 200, read.text)

            let remove = try await api.delete("/api/v1/members/\(adminID)", token: owner.accessToken)
            XCTAssertEqual(remove.code, 204, remove.text)
            let removed = try await api.get("/api/v1/members", token: key.secret)
            XCTAssertEqual(removed.code, 401, removed.text)
            XCTAssertEqual(removed.errorCode, "unauthenticated")
        }
    }

    func testUserNameWithSQLMetacharacters() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup()
            let evil = "Robert'); DROP TABLE users;--"
            let inv = try await F.invite(api, owner.accessToken, email: "bobby@example.com", role: "member")
            let acc = try await api.post("/api/v1/invitations/accept", json: ["token": inv.token, "name": evil, "password": F.password])
            XCTAssertEqual(acc.code, 200, acc.text)
            let m = try await F.member(api, owner.accessToken, email: "bobby@example.com")
            XCTAssertEqual(m?["name"] as? String, evil)
            let me = try await api.get("/api/v1/users/me", token: Session(acc).accessToken)
            XCTAssertEqual(me.data["name"] as? String, evil)
            let renamed = "x' OR '1'='1"
            let patch = try await api.patch("/api/v1/users/me", token: owner.accessToken, json: ["name": renamed])
            XCTAssertEqual(patch.code, 200, patch.text)
            XCTAssertEqual(patch.data["name"] as? String, renamed)
            let list = try await F.members(api, owner.accessToken)
            XCTAssertEqual(Set(list.compactMap { $0["name"] as? String }), [evil, renamed])
            XCTAssertEqual(list.count, 2)
        }
    }
}
