import Foundation

public struct CreatedAPIKey: Sendable {
    public var key: APIKey
    public var secret: String
}

/// API keys: created and rotated with a secret shown once, stored as a SHA-256 hash behind a lookup prefix.
public struct APIKeyService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let cursors: CursorCodec

    public init(store: any Store, clock: any KeelClock, cursors: CursorCodec) {
        self.store = store
        self.clock = clock
        self.cursors = cursors
    }

    public static let secretPrefix = "keel_live_"
    static let lookupLength = 12

    /// `keel_live_` + 12 lookup characters + 32 secret characters.
    public static func makeSecret() -> (secret: String, prefix: String, hash: String) {
        let body = SecureToken.random(bytes: 33).replacingOccurrences(of: "-", with: "x").replacingOccurrences(of: "_", with: "y")
        let secret = secretPrefix + body
        return (secret, lookupPrefix(of: secret) ?? secret, SecureToken.sha256Hex(secret))
    }

    public static func lookupPrefix(of secret: String) -> String? {
        guard secret.hasPrefix(secretPrefix), secret.utf8.count >= secretPrefix.utf8.count + lookupLength + 16, secret.utf8.count <= 200
        else { return nil }
        return String(secret.prefix(secretPrefix.count + lookupLength))
    }

    func validateScopes(_ scopes: [String], role: Role, into v: inout Validator) -> [Scope] {
        if scopes.isEmpty { v.add("scopes", "required", "scopes must name at least one scope.") }
        if scopes.count > 50 { v.add("scopes", "too_many", "At most 50 scopes.") }
        var parsed: [Scope] = []
        for (i, raw) in scopes.enumerated() {
            guard let s = Scope(raw) else {
                v.add("scopes[\(i)]", "invalid_value", "Unknown scope \(raw).")
                continue
            }
            if !parsed.contains(s) { parsed.append(s) }
        }
        return parsed
    }

    func checkGrantable(_ scopes: [Scope], by p: Principal) throws {
        for s in scopes where s.resource != "*" && !p.role.allows(s) {
            throw APIError(.forbidden, "Your role (\(p.role.rawValue)) cannot grant \(s.rawValue).",
                           details: [ErrorDetail(field: "scopes", code: "missing_scope", message: "Scope \(s.rawValue) exceeds your role.", scope: s.rawValue)])
        }
    }

    public func create(_ p: Principal, name rawName: String, scopes rawScopes: [String], expiresAt: Date?, meta: RequestMeta) async throws -> CreatedAPIKey {
        var v = Validator()
        let name = Normalize.text(rawName, field: "name", max: 200, into: &v)
        let scopes = validateScopes(rawScopes, role: p.role, into: &v)
        let now = clock.now()
        if let expiresAt, expiresAt <= now { v.add("expires_at", "in_past", "expires_at must be in the future.") }
        try v.check()
        try checkGrantable(scopes, by: p)
        let secret = APIKeyService.makeSecret()
        let key = APIKey(id: .generate(at: now), workspaceID: p.workspaceID, userID: p.userID, name: name, prefix: secret.prefix,
                         secretHash: secret.hash, scopes: scopes, expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil,
                         createdAt: now, updatedAt: now, version: 1)
        try await store.write { tx in
            try await tx.identity.insertAPIKey(key)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "api_key.created", objectType: "api_key",
                                                 objectID: key.id.rawValue,
                                                 changes: .object(["name": .string(name), "scopes": .array(scopes.map { .string($0.rawValue) })]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
        return CreatedAPIKey(key: key, secret: secret.secret)
    }

    /// Admins see every key of the workspace; others only their own.
    public func list(_ p: Principal, includeRevoked: Bool, page: PageRequest) async throws -> Page<APIKey> {
        let owner: UserID? = p.role >= .admin ? nil : p.userID
        let fingerprint = "api_keys|\(includeRevoked)"
        let before = try cursors.decodeID(page, fingerprint: fingerprint)
        let rows = try await store.read {
            try await $0.identity.apiKeys(p.workspaceID, userID: owner, includeRevoked: includeRevoked, before: before, limit: page.limit + 1)
        }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
    }

    func visibleKey(_ p: Principal, _ id: APIKeyID, in tx: any StoreSession) async throws -> APIKey {
        guard let key = try await tx.identity.apiKey(p.workspaceID, id: id), p.role >= .admin || key.userID == p.userID else {
            throw APIError.notFound("API key")
        }
        return key
    }

    public func get(_ p: Principal, _ id: APIKeyID) async throws -> APIKey {
        try await store.read { try await visibleKey(p, id, in: $0) }
    }

    public func update(_ p: Principal, _ id: APIKeyID, name rawName: String?, scopes rawScopes: [String]?, expectedVersion: Int?,
                       meta: RequestMeta) async throws -> APIKey {
        var v = Validator()
        let name = rawName.map { Normalize.text($0, field: "name", max: 200, into: &v) }
        let scopes = rawScopes.map { validateScopes($0, role: p.role, into: &v) }
        try v.check()
        if let scopes { try checkGrantable(scopes, by: p) }
        let now = clock.now()
        return try await store.write { tx in
            var key = try await visibleKey(p, id, in: tx)
            guard key.revokedAt == nil else { throw APIError.conflict("A revoked key cannot be changed.") }
            if let expectedVersion, expectedVersion != key.version { throw APIError.versionConflict(current: key.version) }
            var changes: [String: JSONValue] = [:]
            if let name, name != key.name {
                changes["name"] = .object(["old": .string(key.name), "new": .string(name)])
                key.name = name
            }
            if let scopes, Set(scopes) != Set(key.scopes) {
                // Scopes may only narrow: every new scope must already be covered by the key.
                for s in scopes where !key.scopes.contains(where: { $0.covers(s) }) {
                    throw APIError.validation("scopes", "cannot_widen", "Scope \(s.rawValue) would widen the key; create a new key instead.")
                }
                changes["scopes"] = .object(["old": .array(key.scopes.map { .string($0.rawValue) }), "new": .array(scopes.map { .string($0.rawValue) })])
                key.scopes = scopes
            }
            guard !changes.isEmpty else { return key }
            key.version += 1
            key.updatedAt = now
            try await tx.identity.updateAPIKey(key)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "api_key.updated", objectType: "api_key",
                                                 objectID: key.id.rawValue, changes: .object(changes), requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
            return key
        }
    }

    public func revoke(_ p: Principal, _ id: APIKeyID, meta: RequestMeta) async throws {
        let now = clock.now()
        try await store.write { tx in
            var key = try await visibleKey(p, id, in: tx)
            guard key.revokedAt == nil else { return }
            key.revokedAt = now
            key.version += 1
            key.updatedAt = now
            try await tx.identity.updateAPIKey(key)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "api_key.revoked", objectType: "api_key",
                                                 objectID: key.id.rawValue, requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
    }

    /// Issues a new secret for the same key; the old secret stops working at once.
    public func rotate(_ p: Principal, _ id: APIKeyID, meta: RequestMeta) async throws -> CreatedAPIKey {
        let now = clock.now()
        let secret = APIKeyService.makeSecret()
        let key = try await store.write { tx in
            var key = try await visibleKey(p, id, in: tx)
            guard key.revokedAt == nil else { throw APIError.conflict("A revoked key cannot be rotated.") }
            if let exp = key.expiresAt, exp <= now { throw APIError.conflict("An expired key cannot be rotated.") }
            key.prefix = secret.prefix
            key.secretHash = secret.hash
            key.version += 1
            key.updatedAt = now
            try await tx.identity.updateAPIKey(key)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "api_key.rotated", objectType: "api_key",
                                                 objectID: key.id.rawValue, requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return key
        }
        return CreatedAPIKey(key: key, secret: secret.secret)
    }
}
