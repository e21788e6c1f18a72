import KeelCore

struct MembersController {
    func register(on r: APIRouter) {
        r.get("/api/v1/members", .read("members")) { req in
            var role: Role?
            if let raw = req.query("role") {
                guard let parsed = Role(rawValue: raw) else { throw APIError.badRequest("role must be owner, admin, member or viewer.", field: "role") }
                role = parsed
            }
            return try req.list(try await req.services.members.list(try req.caller(), role: role, page: try req.page()).map(MemberDTO.init))
        }
        r.get("/api/v1/members/{id}", .read("members")) { req in
            let m = try await req.services.members.get(try req.caller(), try req.id("id", as: MemberKind.self))
            return try req.ok(MemberDTO(m), version: m.member.version)
        }
        r.patch("/api/v1/members/{id}", .write("members")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: MemberKind.self)
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            _ = try await req.services.members.get(p, id)
            let body = try req.decode(MemberPatchBody.self)
            let m = try await req.services.members.changeRole(p, id, to: body.role, expectedVersion: try req.ifMatch() ?? body.version, meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return try req.ok(MemberDTO(m), version: m.member.version)
        }
        // Anyone may remove themselves (leave); removing others needs members:write, checked in the service.
        r.delete("/api/v1/members/{id}", .read("members")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: MemberKind.self)
            let heir = try req.queryID("reassign_to", as: UserKind.self)
            try await req.services.members.remove(p, id, reassignTo: heir, meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return .noContent
        }
    }
}
