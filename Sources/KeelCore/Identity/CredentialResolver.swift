import Foundation

/// Turns a presented credential into a `Principal`, without the slow password hash.
public struct CredentialResolver: Sendable {
    let store: any Store
    let tokens: any AccessTokenCodec
    let clock: any KeelClock

    public init(store: any Store, tokens: any AccessTokenCodec, clock: any KeelClock) {
        self.store = store
        self.tokens = tokens
        self.clock = clock
    }

    public enum Resolution: Sendable {
        case principal(Principal, touchKey: Bool)
        case invalid(String)
    }

    public func resolveAPIKey(_ secret: String) async throws -> Resolution {
        guard let prefix = APIKeyService.lookupPrefix(of: secret) else { return .invalid("The API key is malformed.") }
        let now = clock.now()
        return try await store.read { tx in
            guard let key = try await tx.identity.apiKey(prefix: prefix),
                  SecureToken.constantTimeEquals(key.secretHash, SecureToken.sha256Hex(secret))
            else { return .invalid("The API key is invalid.") }
            if key.revokedAt != nil { return .invalid("The API key has been revoked.") }
            if let exp = key.expiresAt, exp <= now { return .invalid("The API key has expired.") }
            guard let ws = try await tx.identity.workspace(key.workspaceID), ws.deletedAt == nil,
                  let member = try await tx.identity.member(key.workspaceID, userID: key.userID)
            else { return .invalid("The API key's owner is no longer a member of its workspace.") }
            let touch = key.lastUsedAt.map { now.timeIntervalSince($0) >= 60 } ?? true
            return .principal(Principal(userID: key.userID, workspaceID: key.workspaceID, memberID: member.id, role: member.role,
                                        scopes: key.scopes, credential: .apiKey(key.id)), touchKey: touch)
        }
    }

    public func resolveAccessToken(_ token: String) async throws -> Resolution {
        guard let claims = try? await tokens.verify(token) else { return .invalid("The access token is invalid or expired.") }
        let now = clock.now()
        guard claims.expiresAt > now else { return .invalid("The access token has expired.") }
        return try await store.read { tx in
            if try await tx.identity.isAccessTokenRevoked(jti: claims.tokenID) { return .invalid("The access token has been revoked.") }
            guard let user = try await tx.identity.user(claims.userID) else { return .invalid("The access token is invalid.") }
            if let cutoff = user.tokensRevokedBefore, claims.issuedAt <= cutoff { return .invalid("The access token has been revoked.") }
            guard let ws = try await tx.identity.workspace(claims.workspaceID), ws.deletedAt == nil,
                  let member = try await tx.identity.member(claims.workspaceID, userID: claims.userID)
            else { return .invalid("You are no longer a member of this workspace.") }
            return .principal(Principal(userID: claims.userID, workspaceID: claims.workspaceID, memberID: member.id, role: member.role,
                                        scopes: [Scope.all], credential: .accessToken(jti: claims.tokenID)), touchKey: false)
        }
    }

    public func touch(_ id: APIKeyID) async throws {
        let now = clock.now()
        try await store.write { try await $0.identity.touchAPIKey(id, at: now) }
    }
}
