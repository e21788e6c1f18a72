import Foundation

/// One kind of item the timeline merges (notes, tasks, activities, stage moves); field changes are built in.
public protocol TimelineSource: Sendable {
    func items(objectType: String, objectID: String, before: (Date, String)?, limit: Int, principal: Principal, currency: String,
               in tx: any StoreSession) async throws -> [TimelineItem]
}

/// Child records that point at their parent through `related_type` / `related_id` (notes, tasks).
public struct RelatedRecordsSource: TimelineSource {
    let behavior: any ObjectBehavior
    let itemType: String
    public init(behavior: any ObjectBehavior, itemType: String) {
        self.behavior = behavior
        self.itemType = itemType
    }

    public func items(objectType: String, objectID: String, before: (Date, String)?, limit: Int, principal: Principal, currency: String,
                      in tx: any StoreSession) async throws -> [TimelineItem] {
        let scope = RecordScope(schema: behavior.schema, workspaceID: principal.workspaceID, currency: currency)
        let text = { (name: String) in FilterTarget.column(name: name, column: name, lower: nil, family: .text, caseInsensitive: false) }
        let sort = SortKey(target: .column(name: "created_at", column: "created_at", lower: nil, family: .datetime, caseInsensitive: false),
                           descending: true, nullable: false)
        let after = before.map { (BoundValue?.some(.int(Timestamp.millis($0.0))), $0.1) }
        let rows = try await tx.records.list(scope, RecordQuery(filter: .and([.compare(text("related_type"), .eq, [.text(objectType)]),
                                                                             .compare(text("related_id"), .eq, [.text(objectID)])]),
                                                                sort: sort, after: after, limit: limit, viewer: nil))
        return rows.map { r in
            TimelineItem(type: itemType, id: r.id, at: r.createdAt, actor: ActorRef(type: .user, id: r.createdBy?.rawValue),
                         data: .object(RecordJSON.render(r, behavior: behavior)))
        }
    }
}

/// Activities linked to the record, placed at `occurred_at`.
public struct ActivitiesSource: TimelineSource {
    let behavior: any ObjectBehavior
    public init(behavior: any ObjectBehavior) { self.behavior = behavior }

    public func items(objectType: String, objectID: String, before: (Date, String)?, limit: Int, principal: Principal, currency: String,
                      in tx: any StoreSession) async throws -> [TimelineItem] {
        let ids = try await tx.activityLinks.activityIDs(principal.workspaceID, relatedType: objectType, relatedID: objectID, before: before, limit: limit)
        let scope = RecordScope(schema: behavior.schema, workspaceID: principal.workspaceID, currency: currency)
        return try await tx.records.getMany(scope, ids: ids).filter { $0.deletedAt == nil }.map { r in
            TimelineItem(type: "activity", id: r.id, at: r.string("occurred_at").flatMap(Timestamp.parse) ?? r.createdAt,
                         actor: ActorRef(type: .user, id: r.createdBy?.rawValue), data: .object(RecordJSON.render(r, behavior: behavior)))
        }
    }
}

/// A deal's stage moves.
public struct StageMovesSource: TimelineSource {
    public init() {}

    public func items(objectType: String, objectID: String, before: (Date, String)?, limit: Int, principal: Principal, currency: String,
                      in tx: any StoreSession) async throws -> [TimelineItem] {
        guard objectType == "deal" else { return [] }
        return try await tx.pipelines.moves(principal.workspaceID, dealID: objectID, before: before, limit: limit).map { m in
            TimelineItem(type: "stage_move", id: m.id, at: m.movedAt, actor: m.movedBy,
                         data: .object(["from_stage_id": m.fromStageID.map(JSONValue.string) ?? .null, "to_stage_id": .string(m.toStageID),
                                        "time_in_previous_stage_seconds": m.timeInPreviousStageSeconds.map { .number(String($0)) } ?? .null]))
        }
    }
}
