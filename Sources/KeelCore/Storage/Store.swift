import Foundation

/// The storage port. KeelStorage implements it over SQLite and PostgreSQL; services only see these protocols.
public protocol Store: Sendable {
    /// Runs `body` on a reader (no transaction needed for single reads).
    func read<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Runs `body` in one transaction: the row change, its audit entry and its outbox event commit or roll back together.
    func write<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Runs `body` as one transaction that every `read` and `write` made inside it joins (a nested `write` becomes a
    /// savepoint, so its failure undoes only its own changes): several service calls then commit or roll back together.
    func atomically<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Cheap round trip for readiness checks.
    func ping() async throws
}

public protocol StoreSession: Sendable {
    var identity: any IdentityRepository { get }
    var audit: any AuditRepository { get }
    var outbox: any OutboxRepository { get }
    var mail: any MailRepository { get }
    var idempotency: any IdempotencyRepository { get }
    var settings: any SettingsRepository { get }
    var records: any RecordRepository { get }
    var history: any HistoryRepository { get }
    var tags: any TagRepository { get }
    var customFields: any CustomFieldRepository { get }
    var pipelines: any PipelineRepository { get }
    var lineItems: any LineItemRepository { get }
    var activityLinks: any ActivityLinkRepository { get }
    var webhooks: any WebhookRepository { get }
    var automations: any AutomationRepository { get }
    var scheduler: any SchedulerRepository { get }
}

public protocol SettingsRepository: Sendable {
    func value(_ key: String) async throws -> String?
    /// Stores `value` unless the key exists; returns whichever value is stored afterwards.
    func insertIfAbsent(_ key: String, value: String) async throws -> String
}

public protocol IdentityRepository: Sendable {
    // Users
    func countUsers() async throws -> Int
    func insertUser(_ user: User) async throws
    func user(_ id: UserID) async throws -> User?
    func user(email: String) async throws -> User?
    func users(_ ids: [UserID]) async throws -> [User]
    func updateUser(_ user: User) async throws

    // Workspaces
    func insertWorkspace(_ workspace: Workspace) async throws
    func workspace(_ id: WorkspaceID) async throws -> Workspace?
    func updateWorkspace(_ workspace: Workspace) async throws
    func memberships(of user: UserID) async throws -> [(Workspace, Member)]
    /// Oldest first (the bootstrapped workspace comes first).
    func workspaces(limit: Int) async throws -> [Workspace]

    // Members
    func insertMember(_ member: Member) async throws
    func member(_ workspaceID: WorkspaceID, id: MemberID) async throws -> MemberWithUser?
    func member(_ workspaceID: WorkspaceID, userID: UserID) async throws -> Member?
    func members(_ workspaceID: WorkspaceID, role: Role?, before: String?, limit: Int) async throws -> [MemberWithUser]
    func updateMember(_ member: Member) async throws
    func deleteMember(_ workspaceID: WorkspaceID, id: MemberID) async throws
    func countOwners(_ workspaceID: WorkspaceID) async throws -> Int

    // API keys
    func insertAPIKey(_ key: APIKey) async throws
    func apiKey(_ workspaceID: WorkspaceID, id: APIKeyID) async throws -> APIKey?
    func apiKey(prefix: String) async throws -> APIKey?
    func apiKeys(_ workspaceID: WorkspaceID, userID: UserID?, includeRevoked: Bool, before: String?, limit: Int) async throws -> [APIKey]
    func updateAPIKey(_ key: APIKey) async throws
    func touchAPIKey(_ id: APIKeyID, at: Date) async throws

    // Invitations
    func insertInvitation(_ invitation: Invitation) async throws
    func invitation(_ id: InvitationID) async throws -> Invitation?
    func invitations(_ workspaceID: WorkspaceID, pendingAt: Date?, before: String?, limit: Int) async throws -> [Invitation]
    func updateInvitation(_ invitation: Invitation) async throws

    // Sessions
    func insertRefreshToken(_ token: RefreshToken) async throws
    func refreshToken(hash: String) async throws -> RefreshToken?
    func markRefreshTokenRotated(_ id: RefreshTokenID, at: Date) async throws
    func revokeRefreshFamily(_ familyID: String, at: Date) async throws
    func revokeRefreshTokens(of user: UserID, at: Date) async throws
    func revokeAccessToken(jti: String, expiresAt: Date) async throws
    func isAccessTokenRevoked(jti: String) async throws -> Bool

    // Password resets
    func insertPasswordReset(_ reset: PasswordReset) async throws
    func passwordReset(hash: String) async throws -> PasswordReset?
    func markPasswordResetUsed(_ id: PasswordResetID, at: Date) async throws
}

public protocol AuditRepository: Sendable {
    func append(_ entry: AuditEntry) async throws
    func list(_ workspaceID: WorkspaceID, filter: AuditFilter, before: String?, limit: Int) async throws -> [AuditEntry]
    func entry(_ workspaceID: WorkspaceID, id: AuditID) async throws -> AuditEntry?
}

public protocol OutboxRepository: Sendable {
    func append(_ event: OutboxEvent) async throws
    func count(_ workspaceID: WorkspaceID) async throws -> Int
    /// Newest first by id (ids are time-sortable).
    func list(_ workspaceID: WorkspaceID, filter: EventFilter, beforeID: String?, limit: Int) async throws -> [OutboxEvent]
    func get(_ workspaceID: WorkspaceID, id: EventID) async throws -> OutboxEvent?
    /// Locks the oldest undispatched events (in commit order) for the caller's transaction; others skip them.
    func claimUndispatched(limit: Int) async throws -> [OutboxEvent]
    /// A cheap read, so idle workers do not queue for the (SQLite) writer.
    func hasUndispatched() async throws -> Bool
    func markDispatched(_ ids: [EventID], at: Date) async throws
    /// Deletes dispatched events older than `before` (undispatched ones are never dropped).
    func purge(before: Date) async throws -> Int
}

public protocol MailRepository: Sendable {
    func enqueue(_ message: MailMessage) async throws
    func pending(limit: Int) async throws -> [MailMessage]
    /// Marks up to `limit` unsent messages as sent and returns them, so concurrent workers never take the same message.
    func claimPending(limit: Int, at: Date) async throws -> [MailMessage]
    func markSent(_ id: MailID, at: Date) async throws
    func recent(to: String, limit: Int) async throws -> [MailMessage]
}

/// A stored answer for an `Idempotency-Key`.
public struct IdempotencyRecord: Sendable, Equatable {
    public enum State: String, Sendable { case inFlight = "in_flight", done }
    public var scope: String
    public var key: String
    public var fingerprint: String
    public var state: State
    public var status: Int?
    public var headers: [String: String]
    public var body: Data?
    public var createdAt: Date
    public var expiresAt: Date

    public init(scope: String, key: String, fingerprint: String, state: State, status: Int?, headers: [String: String],
                body: Data?, createdAt: Date, expiresAt: Date) {
        self.scope = scope
        self.key = key
        self.fingerprint = fingerprint
        self.state = state
        self.status = status
        self.headers = headers
        self.body = body
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

public protocol IdempotencyRepository: Sendable {
    /// Claims the key; returns nil when claimed, or the existing record when the key is already known.
    func claim(_ record: IdempotencyRecord) async throws -> IdempotencyRecord?
    func complete(scope: String, key: String, status: Int, headers: [String: String], body: Data) async throws
    func release(scope: String, key: String) async throws
    func purgeExpired(before: Date) async throws -> Int
}

/// Thrown by repositories when a unique constraint refuses a row.
public struct UniqueViolation: Error, Sendable {
    public var constraint: String
    public init(constraint: String) { self.constraint = constraint }
}
