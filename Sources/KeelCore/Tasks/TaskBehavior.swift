import Foundation

public enum TaskKind: IDKind { public static let prefix = IDPrefix.task }
public enum ActivityKind: IDKind { public static let prefix = IDPrefix.activity }

/// `related_to {type, id}` shared by notes and tasks: the parent must exist and be visible, and the child is as private as it.
struct RelatedParent: Sendable {
    let parents: [String: any ObjectBehavior]

    static func translate(_ body: [String: JSONValue]) -> [String: JSONValue] {
        var out = body
        if let related = out.removeValue(forKey: "related_to") {
            if case .object(let o) = related {
                out["related_type"] = o["type"] ?? .null
                out["related_id"] = o["id"] ?? .null
            } else if related == .null {
                out["related_type"] = .null
                out["related_id"] = .null
            } else {
                out["related_type"] = related
            }
        }
        return out
    }

    /// A `related_to_type` query value: one of the kinds a note, task or activity can relate to (400 otherwise).
    static func queryType(_ value: String, _ param: String) throws -> String {
        guard NoteBehavior.relatedTypes.contains(value) else {
            throw APIError.badRequest("\(param) must be one of: \(NoteBehavior.relatedTypes.joined(separator: ", ")).", field: param)
        }
        return value
    }

    func record(type: String, id: String, scope: RecordScope, in tx: any StoreSession) async throws -> (any ObjectBehavior, RecordScope, Record?)? {
        guard let behavior = parents[type] else { return nil }
        let parentScope = RecordScope(schema: behavior.schema, workspaceID: scope.workspaceID, currency: scope.currency)
        return (behavior, parentScope, try await tx.records.get(parentScope, id: id))
    }

    func check(type: String?, id: String?, field: String, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        guard let type else { return }
        guard let found = try await record(type: type, id: id ?? "", scope: scope, in: tx) else {
            throw APIError.validation("\(field).type", "invalid_value", "\(field) can relate to: \(parents.keys.sorted().joined(separator: ", ")).")
        }
        guard let parent = found.2, parent.deletedAt == nil, try await found.0.isVisible(parent, to: principal, scope: found.1, in: tx) else {
            throw APIError.validation("\(field).id", "not_found", "\(field) does not name an existing record.")
        }
    }

    func visible(type: String?, id: String?, to p: Principal, scope: RecordScope, in tx: any StoreSession) async throws -> Bool {
        guard p.role < .admin, let type, let found = try await record(type: type, id: id ?? "", scope: scope, in: tx), let parent = found.2 else { return true }
        return try await found.0.isVisible(parent, to: p, scope: found.1, in: tx)
    }
}

public struct TaskBehavior: ObjectBehavior {
    public static let statuses = ["pending", "in_progress", "completed", "cancelled"]
    public static let priorities = ["low", "medium", "high", "urgent"]

    public static let schema = ObjectSchema(
        type: "task", plural: "tasks", prefix: .task, table: "tasks",
        fields: [
            FieldSpec("title", .text(max: 300), nullable: false, sortable: true, searchable: true, lowerColumn: "title_lower"),
            FieldSpec("description", .text(max: 20_000)),
            FieldSpec("status", .enumeration(statuses), nullable: false, sortable: true),
            FieldSpec("priority", .enumeration(priorities), nullable: false, sortable: true),
            FieldSpec("due_at", .datetime, sortable: true),
            FieldSpec("assignee_id", .reference(.user)),
            FieldSpec("related_type", .enumeration(NoteBehavior.relatedTypes)),
            FieldSpec("related_id", .identifier),
            FieldSpec("completed_at", .datetime, writable: false, sortable: true),
        ],
        requiredOnCreate: ["title"], hasOwner: false, nameField: "title", hasTags: false, hasCustomFields: false)

    let related: RelatedParent
    public init(parents: [any ObjectBehavior]) {
        related = RelatedParent(parents: Dictionary(uniqueKeysWithValues: parents.map { ($0.schema.type, $0) }))
    }

    public var schema: ObjectSchema { TaskBehavior.schema }
    public var visibilityFollowsParent: Bool { true }
    public func translateInput(_ body: [String: JSONValue]) -> [String: JSONValue] { RelatedParent.translate(body) }

    public func render(_ record: Record, into json: inout [String: JSONValue]) {
        json["related_to"] = record["related_type"] == nil ? .null
            : .object(["type": record.values["related_type"] ?? .null, "id": record.values["related_id"] ?? .null])
        json["related_type"] = nil
        json["related_id"] = nil
    }

    public func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                        at now: Date, in tx: any StoreSession) async throws {
        if record["status"] == nil { record["status"] = .string("pending") }
        if record["priority"] == nil { record["priority"] = .string("medium") }
        if previous == nil, body["assignee_id"] == nil { record["assignee_id"] = .string(principal.userID.rawValue) }
        let completed = record.string("status") == "completed"
        if completed && previous?.string("status") != "completed" {
            record["completed_at"] = .string(Timestamp.format(now))
        } else if !completed {
            record["completed_at"] = .null
        }
        if (record["related_type"] == nil) != (record["related_id"] == nil) {
            throw APIError.validation("related_to", "invalid_value", "related_to needs both type and id.")
        }
    }

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        if let assignee = record.string("assignee_id"), assignee != previous?.string("assignee_id") {
            guard let id = UserID(assignee), try await tx.identity.member(scope.workspaceID, userID: id) != nil else {
                throw APIError.validation("assignee_id", "not_found", "assignee_id is not a member of this workspace.")
            }
        }
        if record.values["related_id"] != previous?.values["related_id"] || record.values["related_type"] != previous?.values["related_type"] {
            try await related.check(type: record.string("related_type"), id: record.string("related_id"), field: "related_to", scope: scope,
                                    principal: principal, in: tx)
        }
    }

    public func isVisible(_ record: Record, to p: Principal, scope: RecordScope, in tx: any StoreSession) async throws -> Bool {
        try await related.visible(type: record.string("related_type"), id: record.string("related_id"), to: p, scope: scope, in: tx)
    }

    public func eventTypes(previous: Record, record: Record, changed: [String]) -> [String] {
        record.string("status") == "completed" && previous.string("status") != "completed" ? ["task.completed"] : ["task.updated"]
    }

    public func listFilter(_ param: String, _ value: String, parser: FilterParser, workspace: Workspace) throws -> FilterNode? {
        switch param {
        case "overdue":
            guard let b = try ListQuery.bool(value, param) else { return nil }
            let node = FilterNode.and([
                try parser.condition(field: "status", op: .in, value: .array([.string("pending"), .string("in_progress")]), path: param),
                try parser.condition(field: "due_at", op: .lt, value: .string(Timestamp.format(parser.now)), path: param),
            ])
            return b ? node : .not(node)
        case "due_before", "due_after":
            return try parser.condition(field: "due_at", op: param == "due_before" ? .lte : .gte, value: try ListQuery.typed(value, .datetime, param), path: param)
        case "related_to_type":
            return try parser.condition(field: "related_type", op: .eq, value: .string(try RelatedParent.queryType(value, param)), path: param)
        case "related_to_id":
            return try parser.condition(field: "related_id", op: .eq, value: .string(value), path: param)
        default:
            return nil
        }
    }
}

public struct ActivityBehavior: ObjectBehavior {
    public static let types: [(String, String)] = [
        ("call", "A phone or video call."), ("meeting", "A meeting in person or online."), ("email", "An e-mail sent or received."),
        ("note", "A quick logged note about an interaction."), ("sms", "A text message."), ("other", "Any other interaction."),
    ]

    public static let schema = ObjectSchema(
        type: "activity", plural: "activities", prefix: .activity, table: "activities",
        fields: [
            FieldSpec("type", .enumeration(types.map(\.0)), nullable: false),
            FieldSpec("subject", .text(max: 500), sortable: true, searchable: true, lowerColumn: "subject_lower"),
            FieldSpec("body", .text(max: 100 * 1024)),
            FieldSpec("occurred_at", .datetime, nullable: false, sortable: true),
            FieldSpec("duration_seconds", .integer(min: 0, max: 604_800)),
            FieldSpec("outcome", .text(max: 200)),
            FieldSpec("direction", .enumeration(["inbound", "outbound"])),
            FieldSpec("related_to", .links, nullable: false, filterable: false),
        ],
        requiredOnCreate: ["type", "related_to"], hasOwner: false, nameField: "subject", hasTags: false, hasCustomFields: false)

    let related: RelatedParent
    public init(parents: [any ObjectBehavior]) {
        related = RelatedParent(parents: Dictionary(uniqueKeysWithValues: parents.map { ($0.schema.type, $0) }))
    }

    public var schema: ObjectSchema { ActivityBehavior.schema }
    public var visibilityFollowsParent: Bool { true }

    func links(_ record: Record) -> [(String, String)] {
        guard case .array(let items)? = record["related_to"] else { return [] }
        return items.compactMap { item in
            guard let o = item.objectValue, let t = o["type"]?.stringValue, let id = o["id"]?.stringValue else { return nil }
            return (t, id)
        }
    }

    public func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                        at now: Date, in tx: any StoreSession) async throws {
        if record["occurred_at"] == nil { record["occurred_at"] = .string(Timestamp.format(now)) }
        if let raw = body["related_to"] {
            guard case .array(let items) = raw, !items.isEmpty, items.count <= 20 else {
                throw APIError.validation("related_to", "invalid_value", "related_to is an array of 1 to 20 {type, id}.")
            }
            var out: [JSONValue] = []
            for (i, item) in items.enumerated() {
                guard case .object(let o) = item, case .string(let t)? = o["type"], case .string(let id)? = o["id"], o.count == 2 else {
                    throw APIError.validation("related_to[\(i)]", "invalid_type", "Each related_to item is {type, id}.")
                }
                try await related.check(type: t, id: id, field: "related_to[\(i)]", scope: scope, principal: principal, in: tx)
                let link = JSONValue.object(["type": .string(t), "id": .string(id)])
                if !out.contains(link) { out.append(link) }
            }
            record["related_to"] = .array(out)
        }
    }

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {}

    public func isVisible(_ record: Record, to p: Principal, scope: RecordScope, in tx: any StoreSession) async throws -> Bool {
        for (t, id) in links(record) where !(try await related.visible(type: t, id: id, to: p, scope: scope, in: tx)) { return false }
        return true
    }

    public func canModify(_ record: Record, principal: Principal) -> Bool {
        principal.role >= .admin || record.createdBy == principal.userID
    }

    public func eventTypes(previous: Record, record: Record, changed: [String]) -> [String] { ["activity.updated"] }
    public var createdEvent: String { "activity.logged" }

    /// Keeps the link table in step and moves `last_activity_at` forward on each related record (no version bump: it is derived).
    public func afterSave(previous: Record?, record: Record, body: [String: JSONValue], scope: RecordScope, principal: Principal, at now: Date,
                          in tx: any StoreSession) async throws {
        let current = links(record)
        if previous == nil || previous?.values["related_to"] != record.values["related_to"] || record.deletedAt != previous?.deletedAt {
            try await tx.activityLinks.set(scope.workspaceID, activityID: record.id, links: record.deletedAt == nil ? current : [])
        }
        guard record.deletedAt == nil, let at = record.string("occurred_at") else { return }
        for (t, id) in current {
            guard let parent = related.parents[t] else { continue }
            try await tx.activityLinks.touchLastActivity(scope.workspaceID, table: parent.schema.table, id: id, at: Timestamp.parse(at) ?? now)
        }
    }

    public func listFilter(_ param: String, _ value: String, parser: FilterParser, workspace: Workspace) throws -> FilterNode? {
        switch param {
        case "related_to_id": return .linked(table: "activity_links", ownerColumn: "activity_id", column: "related_id", value: value)
        case "related_to_type":
            return .linked(table: "activity_links", ownerColumn: "activity_id", column: "related_type", value: try RelatedParent.queryType(value, param))
        case "actor_id":
            guard UserID.isWellFormed(value) else { throw APIError.badRequest("actor_id is not a valid usr_ id.", field: param) }
            return try parser.condition(field: "created_by", op: .eq, value: .string(value), path: param)
        case "from": return try parser.condition(field: "occurred_at", op: .gte, value: try ListQuery.typed(value, .datetime, param), path: param)
        case "to": return try parser.condition(field: "occurred_at", op: .lte, value: try ListQuery.typed(value, .datetime, param), path: param)
        default: return nil
        }
    }
}

public protocol ActivityLinkRepository: Sendable {
    func set(_ ws: WorkspaceID, activityID: String, links: [(String, String)]) async throws
    /// Bulk form for demo data: (activity id, related type, related id, occurred at).
    func insertMany(_ ws: WorkspaceID, links: [(String, String, String, Date)]) async throws
    /// Recomputes `last_activity_at` of every record of a type from its activity links (after bulk loads).
    func refreshLastActivity(_ ws: WorkspaceID, table: String, relatedType: String) async throws
    func touchLastActivity(_ ws: WorkspaceID, table: String, id: String, at: Date) async throws
    func activityIDs(_ ws: WorkspaceID, relatedType: String, relatedID: String, before: (Date, String)?, limit: Int) async throws -> [String]
    func relink(_ ws: WorkspaceID, relatedType: String, from: String, to: String) async throws
}
