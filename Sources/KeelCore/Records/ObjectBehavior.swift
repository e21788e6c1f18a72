import Foundation

/// The rules one object type adds to the generic record machinery.
public protocol ObjectBehavior: Sendable {
    var schema: ObjectSchema { get }
    /// Cross-record rules (required combinations, references, uniqueness) inside the write transaction.
    func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws
    /// Extra keys in the record's JSON (e.g. `related_to` for notes).
    func render(_ record: Record, into json: inout [String: JSONValue])
    /// Maps an input key to stored fields when the API shape differs (e.g. `related_to` → `related_type`, `related_id`).
    func translateInput(_ body: [String: JSONValue]) -> [String: JSONValue]
    /// Whether the caller may see the record (children inherit their parent's visibility).
    func isVisible(_ record: Record, to p: Principal, scope: RecordScope, in tx: any StoreSession) async throws -> Bool
    /// Whether the caller may change or delete the record (e.g. only a note's author or an admin).
    func canModify(_ record: Record, principal: Principal) -> Bool
    /// Fills fields that follow from others (a deal's status from its stage) and enforces transition rules, before `check`.
    func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                 at now: Date, in tx: any StoreSession) async throws
    /// The event types a change emits (most specific first); default `<type>.updated`.
    func eventTypes(previous: Record, record: Record, changed: [String]) -> [String]
    /// Writes rows that belong to the change (stage history, links) inside its transaction.
    func afterSave(previous: Record?, record: Record, body: [String: JSONValue], scope: RecordScope, principal: Principal, at now: Date,
                   in tx: any StoreSession) async throws
    /// Adds read-time fields (e.g. `is_stale`, linked contacts) to records about to be shown.
    func decorate(_ records: [Record], scope: RecordScope, at now: Date, in tx: any StoreSession) async throws -> [Record]
    /// Input keys handled by `prepare`/`afterSave` rather than stored as fields.
    var extraInputKeys: Set<String> { get }
    /// List query parameters special to the type (aliases, derived filters); nil when the parameter is not one of them.
    func listFilter(_ param: String, _ value: String, parser: FilterParser, workspace: Workspace) throws -> FilterNode?
    /// The event a create emits (`activity.logged` for activities).
    var createdEvent: String { get }
    /// Fields unique among live records of the workspace (checked again on restore).
    var uniqueFields: [String] { get }
    /// Visibility follows a parent record, so SQL alone cannot count what a caller may see.
    var visibilityFollowsParent: Bool { get }
}

extension ObjectBehavior {
    public func isVisible(_ record: Record, to p: Principal, scope: RecordScope, in tx: any StoreSession) async throws -> Bool {
        record.isVisible(to: p)
    }
    public func canModify(_ record: Record, principal: Principal) -> Bool { true }
    public func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                        at now: Date, in tx: any StoreSession) async throws {}
    public func eventTypes(previous: Record, record: Record, changed: [String]) -> [String] { ["\(schema.type).updated"] }
    public func afterSave(previous: Record?, record: Record, body: [String: JSONValue], scope: RecordScope, principal: Principal, at now: Date,
                          in tx: any StoreSession) async throws {}
    public func decorate(_ records: [Record], scope: RecordScope, at now: Date, in tx: any StoreSession) async throws -> [Record] { records }
    public var extraInputKeys: Set<String> { [] }
    public func listFilter(_ param: String, _ value: String, parser: FilterParser, workspace: Workspace) throws -> FilterNode? { nil }
    public var createdEvent: String { "\(schema.type).created" }
    public var uniqueFields: [String] { [] }
    public var visibilityFollowsParent: Bool { false }

    public func render(_ record: Record, into json: inout [String: JSONValue]) {}
    public func translateInput(_ body: [String: JSONValue]) -> [String: JSONValue] { body }
}

/// Shared reference checks used by behaviors.
public enum References {
    /// An `owner_id` must name a member of the workspace (422 `not_found` otherwise).
    public static func checkOwner(_ record: Record, previous: Record?, scope: RecordScope, in tx: any StoreSession) async throws {
        guard let owner = record.ownerID, owner != previous?.ownerID else { return }
        guard let id = UserID(owner), try await tx.identity.member(scope.workspaceID, userID: id) != nil else {
            throw APIError.validation("owner_id", "not_found", "owner_id is not a member of this workspace.")
        }
    }

    /// A reference to another record must exist, be live and be visible to the caller.
    public static func checkRecord(_ field: String, of record: Record, previous: Record?, target: ObjectSchema, scope: RecordScope,
                                   principal: Principal, in tx: any StoreSession) async throws {
        guard let id = record.string(field), id != previous?.string(field) else { return }
        let targetScope = RecordScope(schema: target, workspaceID: scope.workspaceID, currency: scope.currency)
        guard let found = try await tx.records.get(targetScope, id: id), found.deletedAt == nil, found.isVisible(to: principal) else {
            throw APIError.validation(field, "not_found", "\(field) does not name an existing \(target.type).")
        }
    }
}
