import KeelCore

struct InvitationsController {
    func register(on r: APIRouter) {
        r.post("/api/v1/invitations", .write("members")) { req in
            let body = try req.decode(InvitationBody.self)
            let issued = try await req.services.invitations.create(try req.caller(), email: body.email, role: body.role, meta: req.meta)
            return try req.created(InvitationDTO(issued.invitation, now: req.services.clock.now(), acceptURL: issued.acceptURL),
                                   location: "/api/v1/invitations/\(issued.invitation.id.rawValue)", version: nil)
        }
        r.get("/api/v1/invitations", .read("members")) { req in
            var status: Invitation.Status?
            if let raw = req.query("status") {
                guard let s = Invitation.Status(rawValue: raw) else {
                    throw APIError.badRequest("status must be pending, accepted, cancelled or expired.", field: "status")
                }
                status = s
            }
            let now = req.services.clock.now()
            let page = try await req.services.invitations.list(try req.caller(), status: status, page: try req.page())
            return try req.list(page.map { InvitationDTO($0, now: now) })
        }
        r.get("/api/v1/invitations/lookup", .open) { req in
            guard let token = req.query("token"), !token.isEmpty else { throw APIError.badRequest("token is required.", field: "token") }
            return try req.ok(InvitationLookupDTO(try await req.services.invitations.lookup(token: token)))
        }
        r.post("/api/v1/invitations/accept", .open) { req in
            let body = try req.decode(AcceptInvitationBody.self)
            switch try await req.services.invitations.accept(token: body.token, name: body.name, password: body.password, meta: req.meta) {
            case .joined(let member, let ws):
                return try req.ok(AcceptedInvitationDTO(member: MemberDTO(member), workspace: WorkspaceDTO(ws, role: member.member.role)))
            case .signedUp(let tokens):
                return try req.ok(TokensDTO(tokens))
            }
        }
        r.get("/api/v1/invitations/{id}", .read("members")) { req in
            let inv = try await req.services.invitations.get(try req.caller(), try req.id("id", as: InvitationKind.self))
            return try req.ok(InvitationDTO(inv, now: req.services.clock.now()))
        }
        r.delete("/api/v1/invitations/{id}", .write("members")) { req in
            try await req.services.invitations.cancel(try req.caller(), try req.id("id", as: InvitationKind.self), meta: req.meta)
            return .noContent
        }
        r.post("/api/v1/invitations/{id}/resend", .write("members")) { req in
            let issued = try await req.services.invitations.resend(try req.caller(), try req.id("id", as: InvitationKind.self), meta: req.meta)
            return try req.ok(InvitationDTO(issued.invitation, now: req.services.clock.now(), acceptURL: issued.acceptURL))
        }
    }
}
