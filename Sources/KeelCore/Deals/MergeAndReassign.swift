import Foundation

/// When contacts or companies merge, their deals, tasks and activities follow the survivor.
public struct CRMChildrenLinker: MergeLinker {
    public init() {}

    public func move(objectType: String, from source: String, to survivor: String, scope: RecordScope, in tx: any StoreSession) async throws {
        let ws = scope.workspaceID
        let deals = RecordScope(schema: DealBehavior.schema, workspaceID: ws, currency: scope.currency)
        if objectType == "company" {
            _ = try await tx.records.relink(deals, column: "company_id", from: source, to: survivor, onlyLive: false)
        }
        if objectType == "contact" {
            try await tx.lineItems.relinkDealContact(ws, from: source, to: survivor)
        }
        let tasks = RecordScope(schema: TaskBehavior.schema, workspaceID: ws, currency: scope.currency)
        _ = try await tx.records.relinkRelated(tasks, relatedType: objectType, from: source, to: survivor)
        try await tx.activityLinks.relink(ws, relatedType: objectType, from: source, to: survivor)
    }
}

/// A departing member's open records of one type move to the heir, each change recorded in history.
public struct OpenRecordsReassigner: OwnershipReassigner {
    let behavior: any ObjectBehavior
    let column: String
    /// Only records matching this stay "open" (e.g. open deals, unconverted leads, unfinished tasks).
    let openFilter: FilterNode?

    public init(behavior: any ObjectBehavior, column: String, openFilter: FilterNode?) {
        self.behavior = behavior
        self.column = column
        self.openFilter = openFilter
    }

    public var recordType: String { behavior.schema.plural }

    public func reassign(workspaceID: WorkspaceID, from: UserID, to: UserID, actor: ActorRef, at now: Date, in tx: any StoreSession) async throws -> Int {
        guard let ws = try await tx.identity.workspace(workspaceID) else { return 0 }
        let scope = RecordScope(schema: behavior.schema, workspaceID: workspaceID, currency: ws.defaultCurrency)
        let target = FilterTarget.column(name: column, column: column, lower: nil, family: .text, caseInsensitive: false)
        var filter = FilterNode.compare(target, .eq, [.text(from.rawValue)])
        if let openFilter { filter = .and([filter, openFilter]) }
        let sort = SortKey(target: .column(name: "created_at", column: "created_at", lower: nil, family: .datetime, caseInsensitive: false),
                           descending: false, nullable: false)
        var moved = 0
        while true {
            let rows = try await tx.records.list(scope, RecordQuery(filter: filter, sort: sort, limit: 500, viewer: nil))
            if rows.isEmpty { break }
            var history: [HistoryEntry] = []
            for var r in rows {
                r[column] = .string(to.rawValue)
                r.version += 1
                r.updatedAt = now
                try await tx.records.update(scope, r)
                history.append(HistoryEntry(workspaceID: workspaceID, objectType: behavior.schema.type, objectID: r.id, field: column,
                                            oldValue: .string(from.rawValue), newValue: .string(to.rawValue), actor: actor, source: .system, at: now))
            }
            try await tx.history.append(history)
            moved += rows.count
        }
        return moved
    }
}
