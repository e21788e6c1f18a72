import Foundation

/// Tokens handed out by signup, login, refresh, switch-workspace and invitation acceptance.
public struct SessionTokens: Sendable {
    public var accessToken: String
    public var refreshToken: String
    public var expiresIn: Int
    public var workspace: Workspace
    public var role: Role
}

public struct SignupInput: Sendable {
    public var email: String
    public var password: String
    public var name: String
    public var workspaceName: String
    public init(email: String, password: String, name: String, workspaceName: String) {
        self.email = email
        self.password = password
        self.name = name
        self.workspaceName = workspaceName
    }
}

public struct BootstrapResult: Sendable {
    public var user: User
    public var workspace: Workspace
    public var apiKey: APIKey
    public var apiKeySecret: String
    public var password: String
}

/// Sign-up, login, token rotation, logout and password reset.
public struct AuthService: Sendable {
    let store: any Store
    let hasher: any PasswordHasher
    let tokens: any AccessTokenCodec
    let clock: any KeelClock
    let policy: IdentityPolicy
    /// A real hash of a random password: verifying against it gives unknown e-mails the same cost as wrong passwords.
    let decoyHash: String

    public init(store: any Store, hasher: any PasswordHasher, tokens: any AccessTokenCodec, clock: any KeelClock,
                policy: IdentityPolicy, decoyHash: String) {
        self.store = store
        self.hasher = hasher
        self.tokens = tokens
        self.clock = clock
        self.policy = policy
        self.decoyHash = decoyHash
    }

    public func signup(_ input: SignupInput, meta: RequestMeta) async throws -> SessionTokens {
        var v = Validator()
        let email = Normalize.email(input.email)
        if email == nil { v.add("email", "invalid_format", "email is not a valid address.") }
        let name = Normalize.text(input.name, field: "name", max: 200, into: &v)
        let workspaceName = Normalize.text(input.workspaceName, field: "workspace_name", max: 200, into: &v)
        Normalize.password(input.password, into: &v)
        try v.check()
        guard let email else { throw APIError.validation("email", "invalid_format", "email is not a valid address.") }
        let hash = try await hasher.hash(input.password)
        let now = clock.now()
        let openSignup = policy.openSignup
        let (user, workspace, member) = try await store.write { tx in
            if !openSignup, try await tx.identity.countUsers() > 0 {
                throw APIError.forbidden("Sign-up is closed on this server; ask a workspace admin for an invitation.")
            }
            if try await tx.identity.user(email: email) != nil {
                throw APIError.duplicate("email", existingID: nil, message: "An account with this e-mail already exists.")
            }
            let user = User(id: .generate(at: now), email: email, name: name, passwordHash: hash, lastWorkspaceID: nil,
                            createdAt: now, updatedAt: now, version: 1)
            try await tx.identity.insertUser(user)
            let (workspace, member) = try await WorkspaceProvisioner.create(name: workspaceName, owner: user.id, at: now, in: tx)
            var updated = user
            updated.lastWorkspaceID = workspace.id
            try await tx.identity.updateUser(updated)
            try await tx.audit.append(AuditEntry(workspaceID: workspace.id, actor: ActorRef(type: .user, id: user.id.rawValue),
                                                 action: "user.signed_up", objectType: "user", objectID: user.id.rawValue,
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return (updated, workspace, member)
        }
        return try await issue(user: user.id, workspace: workspace, role: member.role, family: nil)
    }

    /// Creates the first owner, workspace and an all-scopes API key (first run and `keel bootstrap`).
    public func bootstrap(email rawEmail: String, password: String?, name: String?, workspaceName: String,
                          onlyIfEmpty: Bool) async throws -> BootstrapResult? {
        guard let email = Normalize.email(rawEmail) else {
            throw APIError.validation("email", "invalid_format", "email is not a valid address.")
        }
        let password = password ?? SecureToken.random(bytes: 12)
        var v = Validator()
        Normalize.password(password, into: &v)
        let workspaceName = Normalize.text(workspaceName, field: "workspace", max: 200, into: &v)
        try v.check()
        let hash = try await hasher.hash(password)
        let now = clock.now()
        let secret = APIKeyService.makeSecret()
        return try await store.write { tx -> BootstrapResult? in
            if onlyIfEmpty, try await tx.identity.countUsers() > 0 { return nil }
            if try await tx.identity.user(email: email) != nil {
                throw APIError.duplicate("email", existingID: nil, message: "An account with this e-mail already exists.")
            }
            let user = User(id: .generate(at: now), email: email, name: name ?? "Owner", passwordHash: hash, lastWorkspaceID: nil,
                            createdAt: now, updatedAt: now, version: 1)
            try await tx.identity.insertUser(user)
            let (workspace, _) = try await WorkspaceProvisioner.create(name: workspaceName, owner: user.id, at: now, in: tx)
            var updated = user
            updated.lastWorkspaceID = workspace.id
            try await tx.identity.updateUser(updated)
            let key = APIKey(id: .generate(at: now), workspaceID: workspace.id, userID: user.id, name: "Bootstrap key",
                             prefix: secret.prefix, secretHash: secret.hash, scopes: [Scope.all], expiresAt: nil, lastUsedAt: nil,
                             revokedAt: nil, createdAt: now, updatedAt: now, version: 1)
            try await tx.identity.insertAPIKey(key)
            try await tx.audit.append(AuditEntry(workspaceID: workspace.id, actor: .system, action: "workspace.bootstrapped",
                                                 objectType: "workspace", objectID: workspace.id.rawValue, createdAt: now))
            try await tx.audit.append(AuditEntry(workspaceID: workspace.id, actor: .system, action: "api_key.created",
                                                 objectType: "api_key", objectID: key.id.rawValue,
                                                 changes: .object(["scopes": .array([.string("*")])]), createdAt: now))
            return BootstrapResult(user: updated, workspace: workspace, apiKey: key, apiKeySecret: secret.secret, password: password)
        }
    }

    public func login(email rawEmail: String, password: String, workspaceID: WorkspaceID?, meta: RequestMeta) async throws -> SessionTokens {
        let invalid = APIError.unauthenticated("The e-mail or password is incorrect.")
        let email = Normalize.email(rawEmail) ?? rawEmail.lowercased()
        let user = try await store.read { try await $0.identity.user(email: email) }
        guard let user else {
            _ = try await hasher.verify(password, hash: decoyHash)
            try await recordFailedLogin(email: email, user: nil, meta: meta)
            throw invalid
        }
        guard try await hasher.verify(password, hash: user.passwordHash) else {
            try await recordFailedLogin(email: email, user: user, meta: meta)
            throw invalid
        }
        let now = clock.now()
        let (workspace, member) = try await store.write { tx -> (Workspace, Member) in
            let memberships = try await tx.identity.memberships(of: user.id).filter { $0.0.deletedAt == nil }
            let chosen: (Workspace, Member)?
            if let workspaceID {
                chosen = memberships.first { $0.0.id == workspaceID }
                if chosen == nil { throw APIError.validation("workspace_id", "not_found", "You are not a member of that workspace.") }
            } else {
                chosen = memberships.first { $0.0.id == user.lastWorkspaceID } ?? memberships.first
            }
            guard let chosen else { throw APIError.forbidden("This account is not a member of any workspace.") }
            var updated = user
            updated.lastWorkspaceID = chosen.0.id
            try await tx.identity.updateUser(updated)
            try await tx.audit.append(AuditEntry(workspaceID: chosen.0.id, actor: ActorRef(type: .user, id: user.id.rawValue),
                                                 action: "auth.login", objectType: "user", objectID: user.id.rawValue,
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return chosen
        }
        return try await issue(user: user.id, workspace: workspace, role: member.role, family: nil)
    }

    private func recordFailedLogin(email: String, user: User?, meta: RequestMeta) async throws {
        let now = clock.now()
        try await store.write { tx in
            try await tx.audit.append(AuditEntry(workspaceID: user?.lastWorkspaceID, actor: ActorRef(type: .user, id: user?.id.rawValue),
                                                 action: "auth.login_failed", objectType: "user", objectID: user?.id.rawValue,
                                                 changes: .object(["email": .string(email)]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
    }

    public func refresh(_ token: String, meta: RequestMeta) async throws -> SessionTokens {
        let invalid = APIError.unauthenticated("The refresh token is invalid, expired or revoked.")
        let hash = SecureToken.sha256Hex(token)
        let now = clock.now()
        let outcome = try await store.write { tx -> Result<(RefreshToken, Workspace, Member), APIError> in
            guard let record = try await tx.identity.refreshToken(hash: hash), record.revokedAt == nil else { return .failure(invalid) }
            if record.rotatedAt != nil {
                // A rotated token came back: someone holds a copy, so the whole family dies.
                try await tx.identity.revokeRefreshFamily(record.familyID, at: now)
                try await tx.audit.append(AuditEntry(workspaceID: record.workspaceID, actor: ActorRef(type: .user, id: record.userID.rawValue),
                                                     action: "auth.refresh_reused", objectType: "user", objectID: record.userID.rawValue,
                                                     requestID: meta.requestID, ip: meta.ip, createdAt: now))
                return .failure(invalid)
            }
            guard record.expiresAt > now,
                  let workspace = try await tx.identity.workspace(record.workspaceID), workspace.deletedAt == nil,
                  let member = try await tx.identity.member(record.workspaceID, userID: record.userID)
            else { return .failure(invalid) }
            try await tx.identity.markRefreshTokenRotated(record.id, at: now)
            return .success((record, workspace, member))
        }
        let (record, workspace, member) = try outcome.get()
        return try await issue(user: record.userID, workspace: workspace, role: member.role, family: record.familyID)
    }

    public func logout(_ principal: Principal) async throws {
        let now = clock.now()
        guard case .accessToken(let jti) = principal.credential else { return }
        try await store.write { tx in
            try await tx.identity.revokeAccessToken(jti: jti, expiresAt: now.addingTimeInterval(policy.accessTokenTTL))
            try await tx.identity.revokeRefreshTokens(of: principal.userID, at: now)
            try await tx.audit.append(AuditEntry(workspaceID: principal.workspaceID, actor: principal.actor, action: "auth.logout",
                                                 objectType: "user", objectID: principal.userID.rawValue, createdAt: now))
        }
    }

    /// Revokes a refresh token's family. Unknown tokens are accepted silently (RFC 7009).
    public func revoke(refreshToken: String) async throws {
        let hash = SecureToken.sha256Hex(refreshToken)
        let now = clock.now()
        try await store.write { tx in
            guard let record = try await tx.identity.refreshToken(hash: hash) else { return }
            try await tx.identity.revokeRefreshFamily(record.familyID, at: now)
            try await tx.audit.append(AuditEntry(workspaceID: record.workspaceID, actor: ActorRef(type: .user, id: record.userID.rawValue),
                                                 action: "auth.refresh_revoked", objectType: "user", objectID: record.userID.rawValue,
                                                 createdAt: now))
        }
    }

    public func switchWorkspace(_ principal: Principal, to workspaceID: WorkspaceID) async throws -> SessionTokens {
        let now = clock.now()
        let (workspace, member) = try await store.write { tx -> (Workspace, Member) in
            guard let workspace = try await tx.identity.workspace(workspaceID), workspace.deletedAt == nil,
                  let member = try await tx.identity.member(workspaceID, userID: principal.userID)
            else { throw APIError.validation("workspace_id", "not_found", "You are not a member of that workspace.") }
            if var user = try await tx.identity.user(principal.userID) {
                user.lastWorkspaceID = workspaceID
                try await tx.identity.updateUser(user)
            }
            try await tx.audit.append(AuditEntry(workspaceID: workspaceID, actor: ActorRef(type: .user, id: principal.userID.rawValue),
                                                 action: "auth.switch_workspace", objectType: "user", objectID: principal.userID.rawValue,
                                                 createdAt: now))
            return (workspace, member)
        }
        return try await issue(user: principal.userID, workspace: workspace, role: member.role, family: nil)
    }

    public func requestPasswordReset(email rawEmail: String) async throws {
        guard let email = Normalize.email(rawEmail) else { return }
        let now = clock.now()
        let token = SecureToken.random()
        let link = "\(policy.publicBaseURL)/reset-password?token=\(token)"
        try await store.write { tx in
            guard let user = try await tx.identity.user(email: email) else { return }
            try await tx.identity.insertPasswordReset(PasswordReset(id: .generate(at: now), userID: user.id,
                                                                    tokenHash: SecureToken.sha256Hex(token),
                                                                    expiresAt: now.addingTimeInterval(policy.passwordResetTTL), usedAt: nil))
            try await tx.mail.enqueue(MailMessage(id: .generate(at: now), workspaceID: nil, to: email, subject: "Reset your Keel password",
                                                  body: "Someone asked to reset the password of this Keel account.\n"
                                                      + "Use this link within one hour (token: \(token)):\n\(link)\n"
                                                      + "If it was not you, ignore this message.", createdAt: now))
            try await tx.audit.append(AuditEntry(workspaceID: user.lastWorkspaceID, actor: ActorRef(type: .user, id: user.id.rawValue),
                                                 action: "auth.password_reset_requested", objectType: "user", objectID: user.id.rawValue,
                                                 createdAt: now))
        }
    }

    public func confirmPasswordReset(token: String, newPassword: String) async throws {
        var v = Validator()
        Normalize.password(newPassword, field: "new_password", into: &v)
        try v.check()
        let hash = try await hasher.hash(newPassword)
        let now = clock.now()
        let tokenHash = SecureToken.sha256Hex(token)
        try await store.write { tx in
            guard let reset = try await tx.identity.passwordReset(hash: tokenHash), reset.usedAt == nil, reset.expiresAt > now,
                  var user = try await tx.identity.user(reset.userID)
            else { throw APIError.validation("token", "invalid_token", "The reset token is invalid, expired or already used.") }
            try await tx.identity.markPasswordResetUsed(reset.id, at: now)
            user.passwordHash = hash
            user.tokensRevokedBefore = now
            user.updatedAt = now
            user.version += 1
            try await tx.identity.updateUser(user)
            try await tx.identity.revokeRefreshTokens(of: user.id, at: now)
            try await tx.audit.append(AuditEntry(workspaceID: user.lastWorkspaceID, actor: ActorRef(type: .user, id: user.id.rawValue),
                                                 action: "auth.password_reset", objectType: "user", objectID: user.id.rawValue,
                                                 createdAt: now))
        }
    }

    func issue(user: UserID, workspace: Workspace, role: Role, family: String?) async throws -> SessionTokens {
        let now = clock.now()
        let claims = AccessTokenClaims(userID: user, workspaceID: workspace.id, tokenID: SecureToken.random(bytes: 16),
                                       issuedAt: now, expiresAt: now.addingTimeInterval(policy.accessTokenTTL))
        let access = try await tokens.sign(claims)
        let refresh = "rt_" + SecureToken.random()
        let record = RefreshToken(id: .generate(at: now), userID: user, workspaceID: workspace.id,
                                  familyID: family ?? SecureToken.random(bytes: 16), tokenHash: SecureToken.sha256Hex(refresh),
                                  createdAt: now, expiresAt: now.addingTimeInterval(policy.refreshTokenTTL), rotatedAt: nil, revokedAt: nil)
        try await store.write { tx in try await tx.identity.insertRefreshToken(record) }
        return SessionTokens(accessToken: access, refreshToken: refresh, expiresIn: Int(policy.accessTokenTTL), workspace: workspace, role: role)
    }
}
