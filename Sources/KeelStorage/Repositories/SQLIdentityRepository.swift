import Foundation
import KeelCore
import SQLKit
import Synchronization

struct SQLIdentityRepository: IdentityRepository {
    let db: any SQLDatabase

    // MARK: Users

    func decodeUser(_ r: any SQLRow) throws -> User {
        User(id: try r.id("id"), email: try r.string("email"), name: try r.string("name"), passwordHash: try r.string("password_hash"),
             lastWorkspaceID: try r.optionalID("last_workspace_id"), tokensRevokedBefore: try r.optionalDate("tokens_revoked_before"),
             createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"), version: try r.int("version"))
    }

    func countUsers() async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM users").first()?.int("n") ?? 0
    }

    func insertUser(_ u: User) async throws {
        try await db.raw("""
            INSERT INTO users (id, email, name, password_hash, last_workspace_id, tokens_revoked_before, created_at, updated_at, version)
            VALUES (\(bind: u.id.rawValue), \(bind: u.email), \(bind: u.name), \(bind: u.passwordHash), \(bind: u.lastWorkspaceID?.rawValue),
                    \(bind: ms(u.tokensRevokedBefore)), \(bind: ms(u.createdAt)), \(bind: ms(u.updatedAt)), \(bind: Int64(u.version)))
            """).run()
    }

    func user(_ id: UserID) async throws -> User? {
        try await db.raw("SELECT * FROM users WHERE id = \(bind: id.rawValue)").first().map(decodeUser)
    }

    func user(email: String) async throws -> User? {
        try await db.raw("SELECT * FROM users WHERE email = \(bind: email)").first().map(decodeUser)
    }

    func users(_ ids: [UserID]) async throws -> [User] {
        guard !ids.isEmpty else { return [] }
        let list = boundList(ids.map(\.rawValue))
        return try await db.raw("SELECT * FROM users WHERE id IN (" + list + ")").all().map(decodeUser)
    }

    func updateUser(_ u: User) async throws {
        try await db.raw("""
            UPDATE users SET email = \(bind: u.email), name = \(bind: u.name), password_hash = \(bind: u.passwordHash),
                last_workspace_id = \(bind: u.lastWorkspaceID?.rawValue), tokens_revoked_before = \(bind: ms(u.tokensRevokedBefore)),
                updated_at = \(bind: ms(u.updatedAt)), version = \(bind: Int64(u.version))
            WHERE id = \(bind: u.id.rawValue)
            """).run()
    }

    // MARK: Workspaces

    func decodeWorkspace(_ r: any SQLRow, prefix: String = "") throws -> Workspace {
        let settingsText = try r.string(prefix + "settings")
        let settings = SettingsMemo.shared.settings(settingsText)
        return Workspace(id: try r.id(prefix + "id"), name: try r.string(prefix + "name"), defaultCurrency: try r.string(prefix + "default_currency"),
                         timezone: try r.string(prefix + "timezone"), settings: settings, createdAt: try r.date(prefix + "created_at"),
                         updatedAt: try r.date(prefix + "updated_at"), createdBy: try r.optionalID(prefix + "created_by"),
                         version: try r.int(prefix + "version"), deletedAt: try r.optionalDate(prefix + "deleted_at"),
                         purgeAfter: try r.optionalDate(prefix + "purge_after"))
    }

    func settingsJSON(_ s: WorkspaceSettings) -> String {
        String(decoding: (try? KeelJSON.encoder.encode(s)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func insertWorkspace(_ w: Workspace) async throws {
        try await db.raw("""
            INSERT INTO workspaces (id, name, default_currency, timezone, settings, created_at, updated_at, created_by, version, deleted_at, purge_after)
            VALUES (\(bind: w.id.rawValue), \(bind: w.name), \(bind: w.defaultCurrency), \(bind: w.timezone), \(bind: settingsJSON(w.settings)),
                    \(bind: ms(w.createdAt)), \(bind: ms(w.updatedAt)), \(bind: w.createdBy?.rawValue), \(bind: Int64(w.version)),
                    \(bind: ms(w.deletedAt)), \(bind: ms(w.purgeAfter)))
            """).run()
    }

    func workspace(_ id: WorkspaceID) async throws -> Workspace? {
        try await db.raw("SELECT * FROM workspaces WHERE id = \(bind: id.rawValue)").first().map { try decodeWorkspace($0) }
    }

    func updateWorkspace(_ w: Workspace) async throws {
        try await db.raw("""
            UPDATE workspaces SET name = \(bind: w.name), default_currency = \(bind: w.defaultCurrency), timezone = \(bind: w.timezone),
                settings = \(bind: settingsJSON(w.settings)), updated_at = \(bind: ms(w.updatedAt)), version = \(bind: Int64(w.version)),
                deleted_at = \(bind: ms(w.deletedAt)), purge_after = \(bind: ms(w.purgeAfter))
            WHERE id = \(bind: w.id.rawValue)
            """).run()
    }

    func workspaces(limit: Int) async throws -> [Workspace] {
        try await db.raw("SELECT * FROM workspaces WHERE deleted_at IS NULL ORDER BY id LIMIT \(bind: Int64(limit))").all().map { try decodeWorkspace($0) }
    }

    func memberships(of user: UserID) async throws -> [(Workspace, Member)] {
        let rows = try await db.raw("""
            SELECT w.*, m.id AS m_id, m.workspace_id AS m_workspace_id, m.user_id AS m_user_id, m.role AS m_role,
                   m.created_at AS m_created_at, m.updated_at AS m_updated_at, m.version AS m_version
            FROM members m JOIN workspaces w ON w.id = m.workspace_id
            WHERE m.user_id = \(bind: user.rawValue) ORDER BY w.id
            """).all()
        return try rows.map { (try decodeWorkspace($0), try decodeMember($0, prefix: "m_")) }
    }

    // MARK: Members

    func decodeMember(_ r: any SQLRow, prefix: String = "") throws -> Member {
        guard let role = Role(rawValue: try r.string(prefix + "role")) else { throw CorruptRow(description: "member role") }
        return Member(id: try r.id(prefix + "id"), workspaceID: try r.id(prefix + "workspace_id"), userID: try r.id(prefix + "user_id"),
                      role: role, createdAt: try r.date(prefix + "created_at"), updatedAt: try r.date(prefix + "updated_at"),
                      version: try r.int(prefix + "version"))
    }

    func decodeMemberWithUser(_ r: any SQLRow) throws -> MemberWithUser {
        MemberWithUser(member: try decodeMember(r), email: try r.string("u_email"), name: try r.string("u_name"))
    }

    func insertMember(_ m: Member) async throws {
        try await db.raw("""
            INSERT INTO members (workspace_id, id, user_id, role, created_at, updated_at, version)
            VALUES (\(bind: m.workspaceID.rawValue), \(bind: m.id.rawValue), \(bind: m.userID.rawValue), \(bind: m.role.rawValue),
                    \(bind: ms(m.createdAt)), \(bind: ms(m.updatedAt)), \(bind: Int64(m.version)))
            """).run()
    }

    func member(_ workspaceID: WorkspaceID, id: MemberID) async throws -> MemberWithUser? {
        try await db.raw("""
            SELECT m.*, u.email AS u_email, u.name AS u_name FROM members m JOIN users u ON u.id = m.user_id
            WHERE m.workspace_id = \(bind: workspaceID.rawValue) AND m.id = \(bind: id.rawValue)
            """).first().map(decodeMemberWithUser)
    }

    func member(_ workspaceID: WorkspaceID, userID: UserID) async throws -> Member? {
        try await db.raw("SELECT * FROM members WHERE workspace_id = \(bind: workspaceID.rawValue) AND user_id = \(bind: userID.rawValue)")
            .first().map { try decodeMember($0) }
    }

    func members(_ workspaceID: WorkspaceID, role: Role?, before: String?, limit: Int) async throws -> [MemberWithUser] {
        var q: SQLQueryString = """
            SELECT m.*, u.email AS u_email, u.name AS u_name FROM members m JOIN users u ON u.id = m.user_id
            WHERE m.workspace_id = \(bind: workspaceID.rawValue)
            """
        if let role { q += " AND m.role = \(bind: role.rawValue)" }
        if let before { q += " AND m.id < \(bind: before)" }
        q += " ORDER BY m.id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decodeMemberWithUser)
    }

    func updateMember(_ m: Member) async throws {
        try await db.raw("""
            UPDATE members SET role = \(bind: m.role.rawValue), updated_at = \(bind: ms(m.updatedAt)), version = \(bind: Int64(m.version))
            WHERE workspace_id = \(bind: m.workspaceID.rawValue) AND id = \(bind: m.id.rawValue)
            """).run()
    }

    func deleteMember(_ workspaceID: WorkspaceID, id: MemberID) async throws {
        try await db.raw("DELETE FROM members WHERE workspace_id = \(bind: workspaceID.rawValue) AND id = \(bind: id.rawValue)").run()
    }

    func countOwners(_ workspaceID: WorkspaceID) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM members WHERE workspace_id = \(bind: workspaceID.rawValue) AND role = 'owner'")
            .first()?.int("n") ?? 0
    }

    // MARK: API keys

    func decodeKey(_ r: any SQLRow) throws -> APIKey {
        let scopesText = try r.string("scopes")
        let raw = (try? JSONDecoder().decode([String].self, from: Data(scopesText.utf8))) ?? []
        return APIKey(id: try r.id("id"), workspaceID: try r.id("workspace_id"), userID: try r.id("user_id"), name: try r.string("name"),
                      prefix: try r.string("prefix"), secretHash: try r.string("secret_hash"), scopes: raw.compactMap(Scope.init),
                      expiresAt: try r.optionalDate("expires_at"), lastUsedAt: try r.optionalDate("last_used_at"),
                      revokedAt: try r.optionalDate("revoked_at"), createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
                      version: try r.int("version"))
    }

    func scopesJSON(_ scopes: [Scope]) -> String {
        String(decoding: (try? JSONEncoder().encode(scopes.map(\.rawValue))) ?? Data("[]".utf8), as: UTF8.self)
    }

    func insertAPIKey(_ k: APIKey) async throws {
        try await db.raw("""
            INSERT INTO api_keys (workspace_id, id, user_id, name, prefix, secret_hash, scopes, expires_at, last_used_at, revoked_at,
                                  created_at, updated_at, version)
            VALUES (\(bind: k.workspaceID.rawValue), \(bind: k.id.rawValue), \(bind: k.userID.rawValue), \(bind: k.name), \(bind: k.prefix),
                    \(bind: k.secretHash), \(bind: scopesJSON(k.scopes)), \(bind: ms(k.expiresAt)), \(bind: ms(k.lastUsedAt)),
                    \(bind: ms(k.revokedAt)), \(bind: ms(k.createdAt)), \(bind: ms(k.updatedAt)), \(bind: Int64(k.version)))
            """).run()
    }

    func apiKey(_ workspaceID: WorkspaceID, id: APIKeyID) async throws -> APIKey? {
        try await db.raw("SELECT * FROM api_keys WHERE workspace_id = \(bind: workspaceID.rawValue) AND id = \(bind: id.rawValue)")
            .first().map(decodeKey)
    }

    func apiKey(prefix: String) async throws -> APIKey? {
        try await db.raw("SELECT * FROM api_keys WHERE prefix = \(bind: prefix)").first().map(decodeKey)
    }

    func apiKeys(_ workspaceID: WorkspaceID, userID: UserID?, includeRevoked: Bool, before: String?, limit: Int) async throws -> [APIKey] {
        var q: SQLQueryString = "SELECT * FROM api_keys WHERE workspace_id = \(bind: workspaceID.rawValue)"
        if let userID { q += " AND user_id = \(bind: userID.rawValue)" }
        if !includeRevoked { q += " AND revoked_at IS NULL" }
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decodeKey)
    }

    func updateAPIKey(_ k: APIKey) async throws {
        try await db.raw("""
            UPDATE api_keys SET name = \(bind: k.name), prefix = \(bind: k.prefix), secret_hash = \(bind: k.secretHash),
                scopes = \(bind: scopesJSON(k.scopes)), expires_at = \(bind: ms(k.expiresAt)), revoked_at = \(bind: ms(k.revokedAt)),
                updated_at = \(bind: ms(k.updatedAt)), version = \(bind: Int64(k.version))
            WHERE workspace_id = \(bind: k.workspaceID.rawValue) AND id = \(bind: k.id.rawValue)
            """).run()
    }

    func touchAPIKey(_ id: APIKeyID, at: Date) async throws {
        try await db.raw("UPDATE api_keys SET last_used_at = \(bind: ms(at)) WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Invitations

    func decodeInvitation(_ r: any SQLRow) throws -> Invitation {
        guard let role = Role(rawValue: try r.string("role")) else { throw CorruptRow(description: "invitation role") }
        return Invitation(id: try r.id("id"), workspaceID: try r.id("workspace_id"), email: try r.string("email"), role: role,
                          invitedBy: try r.id("invited_by"), tokenHash: try r.string("token_hash"), expiresAt: try r.date("expires_at"),
                          acceptedAt: try r.optionalDate("accepted_at"), cancelledAt: try r.optionalDate("cancelled_at"),
                          createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"))
    }

    func insertInvitation(_ i: Invitation) async throws {
        try await db.raw("""
            INSERT INTO invitations (workspace_id, id, email, role, invited_by, token_hash, expires_at, accepted_at, cancelled_at, created_at, updated_at)
            VALUES (\(bind: i.workspaceID.rawValue), \(bind: i.id.rawValue), \(bind: i.email), \(bind: i.role.rawValue),
                    \(bind: i.invitedBy.rawValue), \(bind: i.tokenHash), \(bind: ms(i.expiresAt)), \(bind: ms(i.acceptedAt)),
                    \(bind: ms(i.cancelledAt)), \(bind: ms(i.createdAt)), \(bind: ms(i.updatedAt)))
            """).run()
    }

    func invitation(_ id: InvitationID) async throws -> Invitation? {
        try await db.raw("SELECT * FROM invitations WHERE id = \(bind: id.rawValue)").first().map(decodeInvitation)
    }

    func invitations(_ workspaceID: WorkspaceID, pendingAt: Date?, before: String?, limit: Int) async throws -> [Invitation] {
        var q: SQLQueryString = "SELECT * FROM invitations WHERE workspace_id = \(bind: workspaceID.rawValue)"
        if let pendingAt {
            q += " AND accepted_at IS NULL AND cancelled_at IS NULL AND expires_at > \(bind: ms(pendingAt))"
        }
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decodeInvitation)
    }

    func updateInvitation(_ i: Invitation) async throws {
        try await db.raw("""
            UPDATE invitations SET token_hash = \(bind: i.tokenHash), expires_at = \(bind: ms(i.expiresAt)), accepted_at = \(bind: ms(i.acceptedAt)),
                cancelled_at = \(bind: ms(i.cancelledAt)), updated_at = \(bind: ms(i.updatedAt))
            WHERE workspace_id = \(bind: i.workspaceID.rawValue) AND id = \(bind: i.id.rawValue)
            """).run()
    }

    // MARK: Sessions

    func insertRefreshToken(_ t: RefreshToken) async throws {
        try await db.raw("""
            INSERT INTO refresh_tokens (id, user_id, workspace_id, family_id, token_hash, created_at, expires_at, rotated_at, revoked_at)
            VALUES (\(bind: t.id.rawValue), \(bind: t.userID.rawValue), \(bind: t.workspaceID.rawValue), \(bind: t.familyID),
                    \(bind: t.tokenHash), \(bind: ms(t.createdAt)), \(bind: ms(t.expiresAt)), \(bind: ms(t.rotatedAt)), \(bind: ms(t.revokedAt)))
            """).run()
    }

    func refreshToken(hash: String) async throws -> RefreshToken? {
        try await db.raw("SELECT * FROM refresh_tokens WHERE token_hash = \(bind: hash)").first().map { r in
            RefreshToken(id: try r.id("id"), userID: try r.id("user_id"), workspaceID: try r.id("workspace_id"), familyID: try r.string("family_id"),
                         tokenHash: try r.string("token_hash"), createdAt: try r.date("created_at"), expiresAt: try r.date("expires_at"),
                         rotatedAt: try r.optionalDate("rotated_at"), revokedAt: try r.optionalDate("revoked_at"))
        }
    }

    func markRefreshTokenRotated(_ id: RefreshTokenID, at: Date) async throws {
        try await db.raw("UPDATE refresh_tokens SET rotated_at = \(bind: ms(at)) WHERE id = \(bind: id.rawValue)").run()
    }

    func revokeRefreshFamily(_ familyID: String, at: Date) async throws {
        try await db.raw("UPDATE refresh_tokens SET revoked_at = \(bind: ms(at)) WHERE family_id = \(bind: familyID) AND revoked_at IS NULL").run()
    }

    func revokeRefreshTokens(of user: UserID, at: Date) async throws {
        try await db.raw("UPDATE refresh_tokens SET revoked_at = \(bind: ms(at)) WHERE user_id = \(bind: user.rawValue) AND revoked_at IS NULL").run()
    }

    func revokeAccessToken(jti: String, expiresAt: Date) async throws {
        try await db.raw("""
            INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (\(bind: jti), \(bind: ms(expiresAt))) ON CONFLICT (jti) DO NOTHING
            """).run()
    }

    func isAccessTokenRevoked(jti: String) async throws -> Bool {
        try await db.raw("SELECT jti FROM revoked_access_tokens WHERE jti = \(bind: jti)").first() != nil
    }

    // MARK: Password resets

    func insertPasswordReset(_ p: PasswordReset) async throws {
        try await db.raw("""
            INSERT INTO password_resets (id, user_id, token_hash, expires_at, used_at, created_at)
            VALUES (\(bind: p.id.rawValue), \(bind: p.userID.rawValue), \(bind: p.tokenHash), \(bind: ms(p.expiresAt)), \(bind: ms(p.usedAt)),
                    \(bind: ms(Date())))
            """).run()
    }

    func passwordReset(hash: String) async throws -> PasswordReset? {
        try await db.raw("SELECT * FROM password_resets WHERE token_hash = \(bind: hash)").first().map { r in
            PasswordReset(id: try r.id("id"), userID: try r.id("user_id"), tokenHash: try r.string("token_hash"),
                          expiresAt: try r.date("expires_at"), usedAt: try r.optionalDate("used_at"))
        }
    }

    func markPasswordResetUsed(_ id: PasswordResetID, at: Date) async throws {
        try await db.raw("UPDATE password_resets SET used_at = \(bind: ms(at)) WHERE id = \(bind: id.rawValue)").run()
    }
}

/// Decoded workspace settings by their stored text. Every write reads its workspace afresh inside the transaction (another
/// instance may have changed it), and decoding the settings JSON each time was 2% of a contact create; the text is the
/// key, so a changed row is decoded anew.
final class SettingsMemo: Sendable {
    static let shared = SettingsMemo()
    private static let limit = 1024
    private let decoded = Mutex<[String: WorkspaceSettings]>([:])

    func settings(_ text: String) -> WorkspaceSettings {
        if let known = decoded.withLock({ $0[text] }) { return known }
        let fresh = (try? JSONDecoder().decode(WorkspaceSettings.self, from: Data(text.utf8))) ?? WorkspaceSettings()
        decoded.withLock { all in
            if all.count >= Self.limit { all.removeAll(keepingCapacity: true) }
            all[text] = fresh
        }
        return fresh
    }
}
