import Foundation

/// Who is asking, for visibility: admins and owners see everything; others see shared records and their own.
public struct Viewer: Sendable, Equatable {
    public var userID: UserID
    public var seesPrivate: Bool
    public init(userID: UserID, seesPrivate: Bool) {
        self.userID = userID
        self.seesPrivate = seesPrivate
    }
    public init(_ p: Principal) { self.init(userID: p.userID, seesPrivate: p.role >= .admin) }
}

/// The storage-level shape of a list or search: already validated, ready to compile to SQL.
public struct RecordQuery: Sendable {
    public var filter: FilterNode?
    public var text: String?
    public var sort: SortKey
    /// Keyset position: the last row's sort value and id.
    public var after: (value: BoundValue?, id: String)?
    public var limit: Int
    public var includeDeleted: Bool
    public var viewer: Viewer?

    public init(filter: FilterNode? = nil, text: String? = nil, sort: SortKey, after: (value: BoundValue?, id: String)? = nil, limit: Int,
                includeDeleted: Bool = false, viewer: Viewer?) {
        self.filter = filter
        self.text = text
        self.sort = sort
        self.after = after
        self.limit = limit
        self.includeDeleted = includeDeleted
        self.viewer = viewer
    }
}

/// Workspace facts a record's storage needs (money digits come from the currency).
public struct RecordScope: Sendable {
    public var schema: ObjectSchema
    public var workspaceID: WorkspaceID
    public var currency: String
    public init(schema: ObjectSchema, workspaceID: WorkspaceID, currency: String) {
        self.schema = schema
        self.workspaceID = workspaceID
        self.currency = currency
    }
}

public protocol RecordRepository: Sendable {
    func insert(_ scope: RecordScope, _ record: Record) async throws
    /// Bulk insert (demo data and imports): rows and their tags, no history.
    func insertMany(_ scope: RecordScope, _ records: [Record]) async throws
    func update(_ scope: RecordScope, _ record: Record) async throws
    /// Includes soft-deleted rows; callers decide what a deleted record means.
    func get(_ scope: RecordScope, id: String) async throws -> Record?
    func getMany(_ scope: RecordScope, ids: [String]) async throws -> [Record]
    func list(_ scope: RecordScope, _ query: RecordQuery) async throws -> [Record]
    func count(_ scope: RecordScope, _ query: RecordQuery) async throws -> Int
    /// Live records whose `field` equals `value` exactly (unique checks, duplicate detection).
    func find(_ scope: RecordScope, field: String, value: String, limit: Int) async throws -> [Record]
    /// Rewrites a reference column (`company_id`, `owner_id`...) from one id to another; returns the number of rows.
    func relink(_ scope: RecordScope, column: String, from: String, to: String?, onlyLive: Bool) async throws -> Int
    func setTags(_ scope: RecordScope, id: String, tags: [String]) async throws
    /// Re-points child records (`related_type`/`related_id`) from one parent to another.
    func relinkRelated(_ scope: RecordScope, relatedType: String, from: String, to: String) async throws -> Int
}

public struct HistoryEntry: Sendable, Equatable {
    public enum Source: String, Sendable, Codable { case api, `import`, automation, merge, system }
    public var id: String
    public var workspaceID: WorkspaceID
    public var objectType: String
    public var objectID: String
    public var field: String
    public var oldValue: JSONValue
    public var newValue: JSONValue
    public var actor: ActorRef
    public var source: Source
    public var at: Date

    public init(id: String = "hst_" + ULID.make(), workspaceID: WorkspaceID, objectType: String, objectID: String, field: String,
                oldValue: JSONValue, newValue: JSONValue, actor: ActorRef, source: Source, at: Date) {
        self.id = id
        self.workspaceID = workspaceID
        self.objectType = objectType
        self.objectID = objectID
        self.field = field
        self.oldValue = oldValue
        self.newValue = newValue
        self.actor = actor
        self.source = source
        self.at = at
    }
}

public protocol HistoryRepository: Sendable {
    func append(_ entries: [HistoryEntry]) async throws
    /// Newest first, keyed by `(at, id)`.
    func list(_ workspaceID: WorkspaceID, objectType: String, objectID: String, before: (Date, String)?, limit: Int) async throws -> [HistoryEntry]
    func moveHistory(_ workspaceID: WorkspaceID, objectType: String, from: String, to: String) async throws
}

public protocol TagRepository: Sendable {
    /// Distinct tags with counts of the live records the viewer can see, by case-insensitive prefix.
    func counts(_ workspaceID: WorkspaceID, prefix: String?, viewer: Viewer, objectTypes: [(type: String, table: String, hasVisibility: Bool)], limit: Int) async throws -> [(String, Int)]
}

public protocol CustomFieldRepository: Sendable {
    func insert(_ def: CustomFieldDefinition) async throws
    func update(_ def: CustomFieldDefinition) async throws
    func get(_ workspaceID: WorkspaceID, id: CustomFieldID) async throws -> CustomFieldDefinition?
    func list(_ workspaceID: WorkspaceID, objectType: String?) async throws -> [CustomFieldDefinition]
    /// Removes a key from every record of the type without one history row per record.
    func removeValues(_ workspaceID: WorkspaceID, table: String, key: String) async throws -> Int
}
