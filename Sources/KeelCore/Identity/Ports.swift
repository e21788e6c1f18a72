import Foundation

/// Slow, salted password hashing (bcrypt in production). Implementations run off the event loops.
public protocol PasswordHasher: Sendable {
    func hash(_ password: String) async throws -> String
    func verify(_ password: String, hash: String) async throws -> Bool
}

public struct AccessTokenClaims: Sendable, Equatable {
    public var userID: UserID
    public var workspaceID: WorkspaceID
    public var tokenID: String
    public var issuedAt: Date
    public var expiresAt: Date

    public init(userID: UserID, workspaceID: WorkspaceID, tokenID: String, issuedAt: Date, expiresAt: Date) {
        self.userID = userID
        self.workspaceID = workspaceID
        self.tokenID = tokenID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// Signs and verifies short-lived access tokens (JWT HS256 in production).
public protocol AccessTokenCodec: Sendable {
    func sign(_ claims: AccessTokenClaims) async throws -> String
    func verify(_ token: String) async throws -> AccessTokenClaims
}

/// Where audit entries learn the request they came from.
public struct RequestMeta: Sendable {
    public var requestID: String?
    public var ip: String?
    public init(requestID: String? = nil, ip: String? = nil) {
        self.requestID = requestID
        self.ip = ip
    }
}

public struct IdentityPolicy: Sendable {
    public var accessTokenTTL: TimeInterval = 15 * 60
    public var refreshTokenTTL: TimeInterval = 30 * 24 * 3600
    public var invitationTTL: TimeInterval = 7 * 24 * 3600
    public var passwordResetTTL: TimeInterval = 3600
    public var workspaceGracePeriod: TimeInterval = 30 * 24 * 3600
    public var openSignup = false
    public var publicBaseURL = "http://127.0.0.1:8080"
    /// Signs invitation tokens and cursors.
    public var signingSecret = ""

    public init() {}
}
