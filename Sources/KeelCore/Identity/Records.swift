import Foundation

public struct User: Sendable, Equatable {
    public var id: UserID
    public var email: String
    public var name: String
    public var passwordHash: String
    public var lastWorkspaceID: WorkspaceID?
    public var tokensRevokedBefore: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: UserID, email: String, name: String, passwordHash: String, lastWorkspaceID: WorkspaceID?,
                tokensRevokedBefore: Date? = nil, createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.lastWorkspaceID = lastWorkspaceID
        self.tokensRevokedBefore = tokensRevokedBefore
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

public struct WorkspaceSettings: Sendable, Codable, Equatable {
    public var lostReasons: [String]
    public var requireLostReason: Bool
    public var defaultRotDays: Int

    public init(lostReasons: [String] = [], requireLostReason: Bool = false, defaultRotDays: Int = 30) {
        self.lostReasons = lostReasons
        self.requireLostReason = requireLostReason
        self.defaultRotDays = defaultRotDays
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case lostReasons = "lost_reasons"
        case requireLostReason = "require_lost_reason"
        case defaultRotDays = "default_rot_days"
    }
}

public struct Workspace: Sendable, Equatable {
    public var id: WorkspaceID
    public var name: String
    public var defaultCurrency: String
    public var timezone: String
    public var settings: WorkspaceSettings
    public var createdAt: Date
    public var updatedAt: Date
    public var createdBy: UserID?
    public var version: Int
    public var deletedAt: Date?
    public var purgeAfter: Date?

    public init(id: WorkspaceID, name: String, defaultCurrency: String, timezone: String, settings: WorkspaceSettings,
                createdAt: Date, updatedAt: Date, createdBy: UserID?, version: Int, deletedAt: Date? = nil, purgeAfter: Date? = nil) {
        self.id = id
        self.name = name
        self.defaultCurrency = defaultCurrency
        self.timezone = timezone
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
        self.version = version
        self.deletedAt = deletedAt
        self.purgeAfter = purgeAfter
    }
}

public struct Member: Sendable, Equatable {
    public var id: MemberID
    public var workspaceID: WorkspaceID
    public var userID: UserID
    public var role: Role
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: MemberID, workspaceID: WorkspaceID, userID: UserID, role: Role, createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id
        self.workspaceID = workspaceID
        self.userID = userID
        self.role = role
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// A member together with the user's public fields, as listings show it.
public struct MemberWithUser: Sendable, Equatable {
    public var member: Member
    public var email: String
    public var name: String

    public init(member: Member, email: String, name: String) {
        self.member = member
        self.email = email
        self.name = name
    }
}

public struct APIKey: Sendable, Equatable {
    public var id: APIKeyID
    public var workspaceID: WorkspaceID
    public var userID: UserID
    public var name: String
    public var prefix: String
    public var secretHash: String
    public var scopes: [Scope]
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: APIKeyID, workspaceID: WorkspaceID, userID: UserID, name: String, prefix: String, secretHash: String,
                scopes: [Scope], expiresAt: Date?, lastUsedAt: Date?, revokedAt: Date?, createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id
        self.workspaceID = workspaceID
        self.userID = userID
        self.name = name
        self.prefix = prefix
        self.secretHash = secretHash
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

public struct Invitation: Sendable, Equatable {
    public enum Status: String, Sendable, Codable { case pending, accepted, cancelled, expired }
    public var id: InvitationID
    public var workspaceID: WorkspaceID
    public var email: String
    public var role: Role
    public var invitedBy: UserID
    public var tokenHash: String
    public var expiresAt: Date
    public var acceptedAt: Date?
    public var cancelledAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: InvitationID, workspaceID: WorkspaceID, email: String, role: Role, invitedBy: UserID, tokenHash: String,
                expiresAt: Date, acceptedAt: Date?, cancelledAt: Date?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.workspaceID = workspaceID
        self.email = email
        self.role = role
        self.invitedBy = invitedBy
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.acceptedAt = acceptedAt
        self.cancelledAt = cancelledAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public func status(at now: Date) -> Status {
        if acceptedAt != nil { return .accepted }
        if cancelledAt != nil { return .cancelled }
        if expiresAt <= now { return .expired }
        return .pending
    }
}

public struct RefreshToken: Sendable, Equatable {
    public var id: RefreshTokenID
    public var userID: UserID
    public var workspaceID: WorkspaceID
    public var familyID: String
    public var tokenHash: String
    public var createdAt: Date
    public var expiresAt: Date
    public var rotatedAt: Date?
    public var revokedAt: Date?

    public init(id: RefreshTokenID, userID: UserID, workspaceID: WorkspaceID, familyID: String, tokenHash: String,
                createdAt: Date, expiresAt: Date, rotatedAt: Date?, revokedAt: Date?) {
        self.id = id
        self.userID = userID
        self.workspaceID = workspaceID
        self.familyID = familyID
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.rotatedAt = rotatedAt
        self.revokedAt = revokedAt
    }
}

public struct PasswordReset: Sendable, Equatable {
    public var id: PasswordResetID
    public var userID: UserID
    public var tokenHash: String
    public var expiresAt: Date
    public var usedAt: Date?

    public init(id: PasswordResetID, userID: UserID, tokenHash: String, expiresAt: Date, usedAt: Date?) {
        self.id = id
        self.userID = userID
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

public struct MailMessage: Sendable, Equatable {
    public var id: MailID
    public var workspaceID: WorkspaceID?
    public var to: String
    public var subject: String
    public var body: String
    public var createdAt: Date
    public var sentAt: Date?

    public init(id: MailID, workspaceID: WorkspaceID?, to: String, subject: String, body: String, createdAt: Date, sentAt: Date? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.to = to
        self.subject = subject
        self.body = body
        self.createdAt = createdAt
        self.sentAt = sentAt
    }
}
