import Foundation

public struct IssuedInvitation: Sendable {
    public var invitation: Invitation
    public var acceptURL: String
}

public struct InvitationPreview: Sendable {
    public var invitation: Invitation
    public var workspace: Workspace
    public var inviter: User?
}

public enum AcceptOutcome: Sendable {
    /// An existing user joined; they log in as usual.
    case joined(MemberWithUser, Workspace)
    /// A new user was created and signed in.
    case signedUp(SessionTokens)
}

/// Invitations: signed single-use tokens, mailed through the outbox, with the link also returned to the admin.
public struct InvitationService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let policy: IdentityPolicy
    let cursors: CursorCodec
    let hasher: any PasswordHasher
    let auth: AuthService

    public init(store: any Store, clock: any KeelClock, policy: IdentityPolicy, cursors: CursorCodec, hasher: any PasswordHasher, auth: AuthService) {
        self.store = store
        self.clock = clock
        self.policy = policy
        self.cursors = cursors
        self.hasher = hasher
        self.auth = auth
    }

    /// `base64url("<inv id>.<expiry ms>.<nonce>") + "." + base64url(HMAC)`; the stored hash makes it single use.
    func makeToken(_ id: InvitationID, expiresAt: Date) -> String {
        let payload = "\(id.rawValue).\(Timestamp.millis(expiresAt)).\(SecureToken.random(bytes: 16))"
        let body = SecureToken.base64URL(Data(payload.utf8))
        return body + "." + SecureToken.base64URL(SecureToken.hmac(key: policy.signingSecret, message: Data(body.utf8)))
    }

    func parseToken(_ token: String) -> (InvitationID, Date)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count < 512, parts.count == 2 else { return nil }
        let expected = SecureToken.base64URL(SecureToken.hmac(key: policy.signingSecret, message: Data(parts[0].utf8)))
        guard SecureToken.constantTimeEquals(expected, String(parts[1])), let data = SecureToken.fromBase64URL(String(parts[0])) else { return nil }
        let fields = String(decoding: data, as: UTF8.self).split(separator: ".")
        guard fields.count == 3, let id = InvitationID(String(fields[0])), let ms = Int64(fields[1]) else { return nil }
        return (id, Timestamp.date(ms))
    }

    func acceptURL(_ token: String) -> String {
        "\(policy.publicBaseURL)/invitations/accept?token=\(token)"
    }

    public func create(_ p: Principal, email rawEmail: String, role: Role, meta: RequestMeta) async throws -> IssuedInvitation {
        try p.require(Scope("members", .write))
        guard let email = Normalize.email(rawEmail) else { throw APIError.validation("email", "invalid_format", "email is not a valid address.") }
        if role == .owner && p.role != .owner { throw APIError.forbidden("Only an owner may invite another owner.") }
        let now = clock.now()
        let id = InvitationID.generate(at: now)
        let expiresAt = now.addingTimeInterval(policy.invitationTTL)
        let token = makeToken(id, expiresAt: expiresAt)
        let url = acceptURL(token)
        let invitation = Invitation(id: id, workspaceID: p.workspaceID, email: email, role: role, invitedBy: p.userID,
                                    tokenHash: SecureToken.sha256Hex(token), expiresAt: expiresAt, acceptedAt: nil, cancelledAt: nil,
                                    createdAt: now, updatedAt: now)
        try await store.write { tx in
            guard let ws = try await tx.identity.workspace(p.workspaceID) else { throw APIError.notFound("Workspace") }
            if let user = try await tx.identity.user(email: email), let m = try await tx.identity.member(p.workspaceID, userID: user.id) {
                throw APIError.duplicate("email", existingID: m.id.rawValue, message: "This person is already a member.")
            }
            let pending = try await tx.identity.invitations(p.workspaceID, pendingAt: now, before: nil, limit: 1000)
            if let existing = pending.first(where: { $0.email == email }) {
                throw APIError.duplicate("email", existingID: existing.id.rawValue, message: "A pending invitation already exists; resend it instead.")
            }
            try await tx.identity.insertInvitation(invitation)
            try await tx.mail.enqueue(MailMessage(id: .generate(at: now), workspaceID: p.workspaceID, to: email,
                                                  subject: "You are invited to \(ws.name) on Keel",
                                                  body: "You have been invited to join \(ws.name) as \(role.rawValue).\nAccept within 7 days: \(url)",
                                                  createdAt: now))
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "invitation.created",
                                                 objectType: "invitation", objectID: id.rawValue,
                                                 changes: .object(["email": .string(email), "role": .string(role.rawValue)]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
        return IssuedInvitation(invitation: invitation, acceptURL: url)
    }

    public func list(_ p: Principal, status: Invitation.Status?, page: PageRequest) async throws -> Page<Invitation> {
        try p.require(Scope("members", .read))
        let now = clock.now()
        let fingerprint = "invitations|\(status?.rawValue ?? "")"
        var before = try cursors.decodeID(page, fingerprint: fingerprint)
        // Status is derived from timestamps, so filter in memory while walking keyset pages.
        var out: [Invitation] = []
        while out.count <= page.limit {
            let after = before
            let batch = try await store.read {
                try await $0.identity.invitations(p.workspaceID, pendingAt: status == .pending ? now : nil, before: after, limit: 200)
            }
            out += batch.filter { status == nil || $0.status(at: now) == status }
            guard batch.count == 200, let last = batch.last else { break }
            before = last.id.rawValue
        }
        return cursors.page(out, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
    }

    public func get(_ p: Principal, _ id: InvitationID) async throws -> Invitation {
        try p.require(Scope("members", .read))
        guard let inv = try await store.read({ try await $0.identity.invitation(id) }), inv.workspaceID == p.workspaceID else {
            throw APIError.notFound("Invitation")
        }
        return inv
    }

    public func cancel(_ p: Principal, _ id: InvitationID, meta: RequestMeta) async throws {
        try p.require(Scope("members", .write))
        let now = clock.now()
        try await store.write { tx in
            guard var inv = try await tx.identity.invitation(id), inv.workspaceID == p.workspaceID else { throw APIError.notFound("Invitation") }
            guard inv.status(at: now) == .pending || inv.status(at: now) == .expired else {
                throw APIError.conflict("Only a pending invitation can be cancelled.")
            }
            inv.cancelledAt = now
            inv.updatedAt = now
            try await tx.identity.updateInvitation(inv)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "invitation.cancelled",
                                                 objectType: "invitation", objectID: id.rawValue, requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
        }
    }

    /// A new token and a fresh 7 days; the old token stops working.
    public func resend(_ p: Principal, _ id: InvitationID, meta: RequestMeta) async throws -> IssuedInvitation {
        try p.require(Scope("members", .write))
        let now = clock.now()
        let expiresAt = now.addingTimeInterval(policy.invitationTTL)
        let token = makeToken(id, expiresAt: expiresAt)
        let url = acceptURL(token)
        let inv = try await store.write { tx in
            guard var inv = try await tx.identity.invitation(id), inv.workspaceID == p.workspaceID,
                  let ws = try await tx.identity.workspace(p.workspaceID) else { throw APIError.notFound("Invitation") }
            guard inv.acceptedAt == nil, inv.cancelledAt == nil else { throw APIError.conflict("Only a pending or expired invitation can be resent.") }
            inv.tokenHash = SecureToken.sha256Hex(token)
            inv.expiresAt = expiresAt
            inv.updatedAt = now
            try await tx.identity.updateInvitation(inv)
            try await tx.mail.enqueue(MailMessage(id: .generate(at: now), workspaceID: p.workspaceID, to: inv.email,
                                                  subject: "Reminder: you are invited to \(ws.name) on Keel",
                                                  body: "You have been invited to join \(ws.name) as \(inv.role.rawValue).\nAccept within 7 days: \(url)",
                                                  createdAt: now))
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "invitation.resent",
                                                 objectType: "invitation", objectID: id.rawValue, requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
            return inv
        }
        return IssuedInvitation(invitation: inv, acceptURL: url)
    }

    func live(_ token: String, in tx: any StoreSession, now: Date) async throws -> Invitation {
        let invalid = APIError.validation("token", "invalid_token", "The invitation token is invalid, expired or already used.")
        guard let (id, _) = parseToken(token), let inv = try await tx.identity.invitation(id),
              SecureToken.constantTimeEquals(inv.tokenHash, SecureToken.sha256Hex(token)), inv.status(at: now) == .pending
        else { throw invalid }
        return inv
    }

    public func lookup(token: String) async throws -> InvitationPreview {
        let now = clock.now()
        return try await store.read { tx in
            guard let inv = try? await live(token, in: tx, now: now), let ws = try await tx.identity.workspace(inv.workspaceID), ws.deletedAt == nil else {
                throw APIError.notFound("Invitation")
            }
            return InvitationPreview(invitation: inv, workspace: ws, inviter: try await tx.identity.user(inv.invitedBy))
        }
    }

    public func accept(token: String, name: String?, password: String?, meta: RequestMeta) async throws -> AcceptOutcome {
        let now = clock.now()
        // Hashing is slow, so do it before the transaction when a new account may be created.
        var v = Validator()
        if let password { Normalize.password(password, into: &v) }
        let cleanName = name.map { Normalize.text($0, field: "name", max: 200, into: &v) }
        try v.check()
        let hash: String? = if let password { try await hasher.hash(password) } else { nil }
        enum Step: Sendable { case joined(MemberWithUser, Workspace), created(UserID, Workspace, Role) }
        let step = try await store.write { tx -> Step in
            var inv = try await live(token, in: tx, now: now)
            guard let ws = try await tx.identity.workspace(inv.workspaceID), ws.deletedAt == nil else { throw APIError.notFound("Invitation") }
            let existing = try await tx.identity.user(email: inv.email)
            let userID: UserID
            var created = false
            if let existing {
                if try await tx.identity.member(ws.id, userID: existing.id) != nil {
                    throw APIError.conflict("You are already a member of this workspace.")
                }
                userID = existing.id
            } else {
                guard let hash else { throw APIError.validation("password", "required", "password is required to create your account.") }
                let user = User(id: .generate(at: now), email: inv.email, name: cleanName ?? inv.email, passwordHash: hash,
                                lastWorkspaceID: ws.id, createdAt: now, updatedAt: now, version: 1)
                try await tx.identity.insertUser(user)
                userID = user.id
                created = true
            }
            let member = Member(id: .generate(at: now), workspaceID: ws.id, userID: userID, role: inv.role, createdAt: now, updatedAt: now, version: 1)
            try await tx.identity.insertMember(member)
            inv.acceptedAt = now
            inv.updatedAt = now
            try await tx.identity.updateInvitation(inv)
            try await tx.audit.append(AuditEntry(workspaceID: ws.id, actor: ActorRef(type: .user, id: userID.rawValue), action: "invitation.accepted",
                                                 objectType: "invitation", objectID: inv.id.rawValue,
                                                 changes: .object(["member_id": .string(member.id.rawValue), "role": .string(inv.role.rawValue)]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            if created { return .created(userID, ws, inv.role) }
            guard let full = try await tx.identity.member(ws.id, id: member.id) else { throw APIError.internalError }
            return .joined(full, ws)
        }
        switch step {
        case .joined(let m, let ws): return .joined(m, ws)
        case .created(let user, let ws, let role): return .signedUp(try await auth.issue(user: user, workspace: ws, role: role, family: nil))
        }
    }
}
