import Foundation

public struct WorkspacePatch: Sendable {
    public var name: String?
    public var defaultCurrency: String?
    public var timezone: String?
    public var settings: WorkspaceSettings?
    public var version: Int?
    public init(name: String? = nil, defaultCurrency: String? = nil, timezone: String? = nil, settings: WorkspaceSettings? = nil, version: Int? = nil) {
        self.name = name
        self.defaultCurrency = defaultCurrency
        self.timezone = timezone
        self.settings = settings
        self.version = version
    }
}

public struct UserPatch: Sendable {
    public var name: String?
    public var email: String?
    public var password: String?
    public var currentPassword: String?
    public var version: Int?
    public init(name: String? = nil, email: String? = nil, password: String? = nil, currentPassword: String? = nil, version: Int? = nil) {
        self.name = name
        self.email = email
        self.password = password
        self.currentPassword = currentPassword
        self.version = version
    }
}

/// The current workspace, the caller's workspaces, and the caller's own user record.
public struct WorkspaceService: Sendable {
    let store: any Store
    let hasher: any PasswordHasher
    let clock: any KeelClock
    let policy: IdentityPolicy

    public init(store: any Store, hasher: any PasswordHasher, clock: any KeelClock, policy: IdentityPolicy) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.policy = policy
    }

    public func current(_ p: Principal) async throws -> Workspace {
        guard let ws = try await store.read({ try await $0.identity.workspace(p.workspaceID) }), ws.deletedAt == nil else {
            throw APIError.notFound("Workspace")
        }
        return ws
    }

    public func update(_ p: Principal, _ patch: WorkspacePatch, ifMatch: Int?, meta: RequestMeta) async throws -> Workspace {
        var v = Validator()
        let name = patch.name.map { Normalize.text($0, field: "name", max: 200, into: &v) }
        if let c = patch.defaultCurrency, !Currency.isValid(c) {
            v.add("default_currency", "invalid_value", "default_currency must be an ISO 4217 code such as USD.")
        }
        if let tz = patch.timezone, Normalize.timezone(tz) == nil {
            v.add("timezone", "invalid_value", "timezone must be an IANA zone such as Europe/Paris.")
        }
        if let s = patch.settings {
            if !(1...3650).contains(s.defaultRotDays) { v.add("settings.default_rot_days", "out_of_range", "default_rot_days must be 1 to 3650.") }
            if s.lostReasons.count > 100 || s.lostReasons.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.count > 200 }) {
                v.add("settings.lost_reasons", "invalid_value", "lost_reasons holds at most 100 non-empty reasons of up to 200 characters.")
            }
        }
        try v.check()
        let now = clock.now()
        let expected = ifMatch ?? patch.version
        return try await store.write { tx in
            guard var ws = try await tx.identity.workspace(p.workspaceID), ws.deletedAt == nil else { throw APIError.notFound("Workspace") }
            if let expected, expected != ws.version { throw APIError.versionConflict(current: ws.version) }
            var changes: [String: JSONValue] = [:]
            if let name, name != ws.name {
                changes["name"] = .object(["old": .string(ws.name), "new": .string(name)])
                ws.name = name
            }
            if let c = patch.defaultCurrency, c != ws.defaultCurrency {
                changes["default_currency"] = .object(["old": .string(ws.defaultCurrency), "new": .string(c)])
                ws.defaultCurrency = c
            }
            if let tz = patch.timezone, tz != ws.timezone {
                changes["timezone"] = .object(["old": .string(ws.timezone), "new": .string(tz)])
                ws.timezone = tz
            }
            if let s = patch.settings, s != ws.settings {
                changes["settings"] = .object(["old": .from(ws.settings), "new": .from(s)])
                ws.settings = s
            }
            guard !changes.isEmpty else { return ws }
            ws.version += 1
            ws.updatedAt = now
            try await tx.identity.updateWorkspace(ws)
            ContextCache.shared.invalidate(ws.id)
            try await tx.audit.append(AuditEntry(workspaceID: ws.id, actor: p.actor, action: "workspace.updated", objectType: "workspace",
                                                 objectID: ws.id.rawValue, changes: .object(changes), requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
            return ws
        }
    }

    public func delete(_ p: Principal, meta: RequestMeta) async throws {
        try p.require(role: .owner)
        let now = clock.now()
        try await store.write { tx in
            guard var ws = try await tx.identity.workspace(p.workspaceID), ws.deletedAt == nil else { throw APIError.notFound("Workspace") }
            ws.deletedAt = now
            ws.purgeAfter = now.addingTimeInterval(policy.workspaceGracePeriod)
            ws.version += 1
            ws.updatedAt = now
            try await tx.identity.updateWorkspace(ws)
            try await tx.audit.append(AuditEntry(workspaceID: ws.id, actor: p.actor, action: "workspace.deleted", objectType: "workspace",
                                                 objectID: ws.id.rawValue,
                                                 changes: .object(["purge_after": .string(Timestamp.format(now.addingTimeInterval(policy.workspaceGracePeriod)))]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
    }

    public func transferOwnership(_ p: Principal, to memberID: MemberID, meta: RequestMeta) async throws -> MemberWithUser {
        try p.require(role: .owner)
        let now = clock.now()
        return try await store.write { tx in
            guard var target = try await tx.identity.member(p.workspaceID, id: memberID) else {
                throw APIError.validation("member_id", "not_found", "No such member in this workspace.")
            }
            if target.member.id == p.memberID {
                throw APIError.validation("member_id", "invalid_value", "You already own this workspace.")
            }
            let previousRole = target.member.role
            target.member.role = .owner
            target.member.version += 1
            target.member.updatedAt = now
            try await tx.identity.updateMember(target.member)
            if var me = try await tx.identity.member(p.workspaceID, userID: p.userID) {
                me.role = .admin
                me.version += 1
                me.updatedAt = now
                try await tx.identity.updateMember(me)
            }
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "workspace.ownership_transferred",
                                                 objectType: "member", objectID: target.member.id.rawValue,
                                                 changes: .object(["role": .object(["old": .string(previousRole.rawValue), "new": .string("owner")]),
                                                                   "previous_owner": .string(p.userID.rawValue)]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return target
        }
    }

    public func mine(_ userID: UserID) async throws -> [(Workspace, Member)] {
        try await store.read { try await $0.identity.memberships(of: userID) }.filter { $0.0.deletedAt == nil }
    }

    public func create(_ p: Principal, name rawName: String, currency: String?, timezone: String?, meta: RequestMeta) async throws -> (Workspace, Member) {
        var v = Validator()
        let name = Normalize.text(rawName, field: "name", max: 200, into: &v)
        if let currency, !Currency.isValid(currency) { v.add("default_currency", "invalid_value", "default_currency must be an ISO 4217 code.") }
        if let timezone, Normalize.timezone(timezone) == nil { v.add("timezone", "invalid_value", "timezone must be an IANA zone.") }
        try v.check()
        let now = clock.now()
        return try await store.write { tx in
            let created = try await WorkspaceProvisioner.create(name: name, currency: currency ?? "USD", timezone: timezone ?? "UTC",
                                                                owner: p.userID, at: now, in: tx)
            try await tx.audit.append(AuditEntry(workspaceID: created.0.id, actor: p.actor, action: "workspace.created",
                                                 objectType: "workspace", objectID: created.0.id.rawValue,
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return created
        }
    }

    public func me(_ p: Principal) async throws -> User {
        guard let user = try await store.read({ try await $0.identity.user(p.userID) }) else { throw APIError.notFound("User") }
        return user
    }

    public func updateMe(_ p: Principal, _ patch: UserPatch, meta: RequestMeta) async throws -> User {
        var v = Validator()
        let name = patch.name.map { Normalize.text($0, field: "name", max: 200, into: &v) }
        var email: String?
        if let raw = patch.email {
            email = Normalize.email(raw)
            if email == nil { v.add("email", "invalid_format", "email is not a valid address.") }
        }
        if let pw = patch.password {
            Normalize.password(pw, into: &v)
            if patch.currentPassword == nil { v.add("current_password", "required", "current_password is required to change the password.") }
        }
        try v.check()
        let current = try await me(p)
        if let expected = patch.version, expected != current.version { throw APIError.versionConflict(current: current.version) }
        var newHash: String?
        if let pw = patch.password, let currentPassword = patch.currentPassword {
            guard try await hasher.verify(currentPassword, hash: current.passwordHash) else {
                throw APIError.validation("current_password", "incorrect", "current_password is incorrect.")
            }
            newHash = try await hasher.hash(pw)
        }
        let now = clock.now()
        let hashToSet = newHash
        let newEmail = email
        return try await store.write { tx in
            guard var user = try await tx.identity.user(p.userID) else { throw APIError.notFound("User") }
            if user.version != current.version { throw APIError.versionConflict(current: user.version) }
            var changes: [String: JSONValue] = [:]
            if let name, name != user.name {
                changes["name"] = .object(["old": .string(user.name), "new": .string(name)])
                user.name = name
            }
            if let email = newEmail, email != user.email {
                if let other = try await tx.identity.user(email: email), other.id != user.id {
                    throw APIError.duplicate("email", existingID: nil, message: "Another account uses this e-mail.")
                }
                changes["email"] = .object(["old": .string(user.email), "new": .string(email)])
                user.email = email
            }
            if let hashToSet {
                user.passwordHash = hashToSet
                changes["password"] = .string("changed")
            }
            guard !changes.isEmpty else { return user }
            user.version += 1
            user.updatedAt = now
            try await tx.identity.updateUser(user)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "user.updated", objectType: "user",
                                                 objectID: user.id.rawValue, changes: .object(changes), requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
            return user
        }
    }
}
