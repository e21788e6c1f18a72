import Foundation
import KeelCore

/// `/workspace` (the current one), `/workspaces` (all of mine) and `/users/me`.
struct WorkspaceController {
    func register(on r: APIRouter) {
        r.get("/api/v1/workspace", .read("workspace")) { req in
            let p = try req.caller()
            let ws = try await req.services.workspaces.current(p)
            return try req.ok(WorkspaceDTO(ws, role: p.role), version: ws.version)
        }
        r.patch("/api/v1/workspace", .write("workspace")) { req in
            let p = try req.caller()
            let body = try req.decode(WorkspacePatchBody.self)
            var settings: WorkspaceSettings?
            if let s = try body.settings.required("settings") {
                let current = try await req.services.workspaces.current(p).settings
                settings = WorkspaceSettings(lostReasons: s.lost_reasons ?? current.lostReasons,
                                             requireLostReason: s.require_lost_reason ?? current.requireLostReason,
                                             defaultRotDays: s.default_rot_days ?? current.defaultRotDays)
            }
            let patch = WorkspacePatch(name: try body.name.required("name"), defaultCurrency: try body.default_currency.required("default_currency"),
                                       timezone: try body.timezone.required("timezone"), settings: settings, version: try body.version.required("version"))
            let ws = try await req.services.workspaces.update(p, patch, ifMatch: try req.ifMatch(), meta: req.meta)
            return try req.ok(WorkspaceDTO(ws, role: p.role), version: ws.version)
        }
        r.delete("/api/v1/workspace", .write("workspace")) { req in
            try await req.services.workspaces.delete(try req.caller(), meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return .noContent
        }
        r.post("/api/v1/workspace/transfer-ownership", .write("members")) { req in
            let body = try req.decode(TransferOwnershipBody.self)
            guard let id = MemberID(body.member_id) else { throw APIError.validation("member_id", "not_found", "No such member in this workspace.") }
            let member = try await req.services.workspaces.transferOwnership(try req.caller(), to: id, meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return try req.ok(MemberDTO(member), version: member.member.version)
        }
        r.get("/api/v1/workspaces", .userSession) { req in
            let p = try req.caller()
            let all = try await req.services.workspaces.mine(p.userID).map { WorkspaceDTO($0.0, role: $0.1.role) }
            return try req.list(Page(items: all, nextCursor: nil))
        }
        r.post("/api/v1/workspaces", .userSession) { req in
            let body = try req.decode(CreateWorkspaceBody.self)
            let (ws, member) = try await req.services.workspaces.create(try req.caller(), name: body.name, currency: body.default_currency,
                                                                        timezone: body.timezone, meta: req.meta)
            return try req.created(WorkspaceDTO(ws, role: member.role), location: "/api/v1/workspaces")
        }
        r.get("/api/v1/users/me", .authenticated) { req in
            let user = try await req.services.workspaces.me(try req.caller())
            return try req.ok(UserDTO(user), version: user.version)
        }
        // A password change hashes with bcrypt, which must not hold the transaction.
        r.patch("/api/v1/users/me", .userSession, commit: .separately) { req in
            let body = try req.decode(UserPatchBody.self)
            let patch = UserPatch(name: try body.name.required("name"), email: try body.email.required("email"),
                                  password: try body.password.required("password"), currentPassword: try body.current_password.required("current_password"),
                                  version: try req.ifMatch() ?? body.version.required("version"))
            let user = try await req.services.workspaces.updateMe(try req.caller(), patch, meta: req.meta)
            return try req.ok(UserDTO(user), version: user.version)
        }
    }
}
