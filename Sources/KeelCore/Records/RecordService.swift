import Foundation

public struct RecordListParams: Sendable {
    public var query: [String: String]
    public var page: PageRequest
    public init(query: [String: String], page: PageRequest) {
        self.query = query
        self.page = page
    }
}

public struct SearchBody: Sendable {
    public var filter: JSONValue?
    public var sort: [String]
    public var q: String?
    public var limit: Int?
    public var cursor: String?
    public var includeTotal: Bool
    public init(filter: JSONValue?, sort: [String], q: String?, limit: Int?, cursor: String?, includeTotal: Bool) {
        self.filter = filter
        self.sort = sort
        self.q = q
        self.limit = limit
        self.cursor = cursor
        self.includeTotal = includeTotal
    }
}

/// The generic record machinery: CRUD, lists and search, history, timeline, batch and merge for any object type.
public struct RecordService: Sendable {
    public let behavior: any ObjectBehavior
    let store: any Store
    let clock: any KeelClock
    let cursors: CursorCodec
    let noteBehavior: (any ObjectBehavior)?
    let timelineSources: [any TimelineSource]

    public init(behavior: any ObjectBehavior, store: any Store, clock: any KeelClock, cursors: CursorCodec, notes: (any ObjectBehavior)?,
                timeline: [any TimelineSource] = []) {
        self.behavior = behavior
        self.store = store
        self.clock = clock
        self.cursors = cursors
        self.noteBehavior = notes
        self.timelineSources = timeline.isEmpty ? notes.map { [RelatedRecordsSource(behavior: $0, itemType: "note")] } ?? [] : timeline
    }

    public var schema: ObjectSchema { behavior.schema }
    var readScope: Scope { Scope(schema.plural, .read) }
    var writeScope: Scope { Scope(schema.plural, .write) }

    func context(_ p: Principal, in tx: any StoreSession) async throws -> (RecordScope, [CustomFieldDefinition], Workspace) {
        guard let ws = try await tx.identity.workspace(p.workspaceID) else { throw APIError.notFound("Workspace") }
        let defs = schema.hasCustomFields ? try await tx.customFields.list(p.workspaceID, objectType: schema.type) : []
        return (RecordScope(schema: schema, workspaceID: p.workspaceID, currency: ws.defaultCurrency), defs, ws)
    }

    /// The same for read paths, through the short-lived cache.
    func readContext(_ p: Principal, in tx: any StoreSession) async throws -> (RecordScope, [CustomFieldDefinition], Workspace) {
        let now = clock.now()
        if let (ws, defs) = ContextCache.shared.get(p.workspaceID, objectType: schema.type, now: now), let defs {
            return (RecordScope(schema: schema, workspaceID: p.workspaceID, currency: ws.defaultCurrency), defs, ws)
        }
        let fresh = try await context(p, in: tx)
        ContextCache.shared.put(fresh.2, objectType: schema.type, definitions: fresh.1, now: now)
        return fresh
    }

    public func render(_ r: Record) -> JSONValue { .object(RecordJSON.render(r, behavior: behavior)) }

    // MARK: Reads

    /// A live record the caller may see, else 404.
    func visible(_ p: Principal, id: String, scope: RecordScope, in tx: any StoreSession, allowDeleted: Bool = false) async throws -> Record {
        guard let r = try await tx.records.get(scope, id: id), allowDeleted || r.deletedAt == nil,
              try await behavior.isVisible(r, to: p, scope: scope, in: tx) else {
            throw APIError.notFound(schema.type.capitalized)
        }
        return r
    }

    public func get(_ p: Principal, id: String, includeDeleted: Bool = false) async throws -> Record {
        try p.require(readScope)
        return try await store.read { tx in
            let (scope, _, _) = try await readContext(p, in: tx)
            let r = try await visible(p, id: id, scope: scope, in: tx, allowDeleted: includeDeleted && p.role >= .admin)
            return try await behavior.decorate([r], scope: scope, at: clock.now(), in: tx).first ?? r
        }
    }

    public func list(_ p: Principal, params: RecordListParams, extraFilter: FilterNode? = nil) async throws -> Page<Record> {
        try p.require(readScope)
        return try await store.read { tx in
            let (scope, defs, ws) = try await readContext(p, in: tx)
            let parser = FilterParser(schema: schema, customFields: defs, timezone: TimeZone(identifier: ws.timezone) ?? .gmt, now: clock.now(),
                                      currency: ws.defaultCurrency, errorKind: .badRequest)
            var conditions: [FilterNode] = extraFilter.map { [$0] } ?? []
            conditions += try ListQuery.filters(params.query, parser: parser, behavior: behavior, workspace: ws)
            let sort = try parser.sortKey(params.query["sort"] ?? "-created_at")
            let includeDeleted = try ListQuery.bool(params.query["include_deleted"], "include_deleted") ?? false
            if includeDeleted && p.role < .admin { throw APIError.forbidden("include_deleted is for admins.") }
            let text = try ListQuery.text(params.query["q"])
            try await checkReferenceFilters(params.query, p: p, scope: scope, in: tx)
            let filter: FilterNode? = conditions.isEmpty ? nil : .and(conditions)
            return try await page(p, scope: scope, filter: filter, text: text, sort: sort, page: params.page, includeDeleted: includeDeleted, in: tx)
        }
    }

    public func search(_ p: Principal, body: SearchBody) async throws -> Page<Record> {
        try p.require(readScope)
        return try await store.read { tx in
            let (scope, defs, ws) = try await readContext(p, in: tx)
            let parser = FilterParser(schema: schema, customFields: defs, timezone: TimeZone(identifier: ws.timezone) ?? .gmt, now: clock.now(),
                                      currency: ws.defaultCurrency)
            let filter = try body.filter.map { try parser.parse($0) }
            guard body.sort.count <= 1 else { throw APIError.validation("sort", "too_many", "Sort by one field (id breaks ties).") }
            let sort = try parser.sortKey(body.sort.first ?? "-created_at")
            var page = PageRequest(limit: body.limit ?? PageRequest.defaultLimit, cursor: body.cursor, includeTotal: body.includeTotal)
            if !(1...PageRequest.maxLimit).contains(page.limit) { throw APIError.validation("limit", "out_of_range", "limit must be 1 to 200.") }
            page.includeTotal = body.includeTotal
            let text: String?
            do { text = try ListQuery.text(body.q) } catch { throw APIError.validation("q", "too_short", "q needs at least 2 characters.") }
            return try await self.page(p, scope: scope, filter: filter, text: text, sort: sort, page: page, includeDeleted: false, in: tx)
        }
    }

    func page(_ p: Principal, scope: RecordScope, filter: FilterNode?, text: String?, sort: SortKey, page: PageRequest, includeDeleted: Bool,
              in tx: any StoreSession) async throws -> Page<Record> {
        let fingerprint = QueryFingerprints.shared.text(type: schema.type, filter: filter, text: text, sort: sort, includeDeleted: includeDeleted)
        var after: (BoundValue?, String)?
        if let cursor = try cursors.decode(page, fingerprint: fingerprint) {
            guard cursor.values.count == 2, let id = cursor.values[1] else {
                throw APIError.badRequest("The cursor is invalid or belongs to another query.", field: "cursor")
            }
            after = (try SortValues.decode(cursor.values[0]), id)
        }
        var query = RecordQuery(filter: filter, text: text, sort: sort, after: after, limit: page.limit + 1, includeDeleted: includeDeleted,
                                viewer: Viewer(p))
        let raw = try await tx.records.list(scope, query)
        let hasMore = raw.count > page.limit
        let window = Array(raw.prefix(page.limit))
        var items: [Record] = []
        for r in window where try await behavior.isVisible(r, to: p, scope: scope, in: tx) { items.append(r) }
        items = try await behavior.decorate(items, scope: scope, at: clock.now(), in: tx)
        var total: Int?
        if page.includeTotal {
            query.after = nil
            if behavior.visibilityFollowsParent && p.role < .admin {
                // Count only what the caller may open (bounded: totals past 10,000 are not worth a full scan).
                query.limit = 10_000
                var visibleCount = 0
                for r in try await tx.records.list(scope, query) where try await behavior.isVisible(r, to: p, scope: scope, in: tx) { visibleCount += 1 }
                total = visibleCount
            } else {
                total = try await tx.records.count(scope, query)
            }
        }
        // The cursor follows the last row scanned, so rows hidden by a parent's visibility never shift pages.
        var next: String?
        if hasMore, let last = window.last {
            next = Cursor(values: [SortValues.encode(SortValues.extract(last, sort, currency: scope.currency)), last.id],
                          queryFingerprint: fingerprint).encode(secret: cursors.secret)
        }
        return Page(items: items, nextCursor: next, total: total)
    }

    /// Ids in query filters must name something in this workspace (an unknown or foreign id is a bad filter, 400).
    func checkReferenceFilters(_ query: [String: String], p: Principal, scope: RecordScope, in tx: any StoreSession) async throws {
        for (key, value) in query {
            // Link filters such as a deal's `contact_id` or a task's `related_to_id` name records too.
            if schema.field(key) == nil, key.hasSuffix("_id"), let raw = value.split(separator: "_").first,
               let prefix = IDPrefix(rawValue: String(raw)), let target = RecordSchemas.byPrefix[prefix] {
                let found = try await tx.records.get(RecordScope(schema: target, workspaceID: p.workspaceID, currency: scope.currency), id: value)
                if found == nil { throw APIError.badRequest("\(key) does not name a \(prefix.rawValue)_ record of this workspace.", field: key) }
                continue
            }
            guard let spec = schema.field(key), case .reference(let prefix) = spec.kind else { continue }
            let exists: Bool
            switch prefix {
            case .user:
                exists = try await UserID(value).asyncMap { try await tx.identity.member(p.workspaceID, userID: $0) } != nil
            case .pipeline:
                exists = try await tx.pipelines.pipeline(p.workspaceID, id: value) != nil
            case .stage:
                exists = try await tx.pipelines.stage(p.workspaceID, id: value) != nil
            default:
                guard let target = RecordSchemas.byPrefix[prefix] else { continue }
                exists = try await tx.records.get(RecordScope(schema: target, workspaceID: p.workspaceID, currency: scope.currency), id: value) != nil
            }
            if !exists { throw APIError.badRequest("\(key) does not name a \(prefix.rawValue)_ record of this workspace.", field: key) }
        }
    }

    // MARK: Writes

    func baseEvent(_ type: String, _ r: Record, p: Principal, previous: [String: JSONValue] = [:], changed: [String] = [], at: Date) -> OutboxEvent {
        OutboxEvent(workspaceID: r.workspaceID, type: type, occurredAt: at, actor: p.actor, objectType: schema.type, objectID: r.id,
                    payload: .object(["object": render(r), "previous": .object(previous), "changed_fields": .array(changed.map(JSONValue.string))]),
                    causationDepth: p.causationDepth)
    }

    func historyRows(_ changes: [(field: String, old: JSONValue, new: JSONValue)], record: Record, p: Principal, source: HistoryEntry.Source,
                     at: Date) -> [HistoryEntry] {
        changes.map {
            HistoryEntry(workspaceID: record.workspaceID, objectType: schema.type, objectID: record.id, field: $0.field, oldValue: $0.old,
                         newValue: $0.new, actor: p.actor, source: source, at: at)
        }
    }

    func auditChanges(_ changes: [(field: String, old: JSONValue, new: JSONValue)]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: changes.map { ($0.field, JSONValue.object(["old": $0.old, "new": $0.new])) }))
    }

    public func create(_ p: Principal, body: [String: JSONValue], source: HistoryEntry.Source = .api, meta: RequestMeta) async throws -> Record {
        try p.require(writeScope)
        let now = clock.now()
        return try await store.write { tx in try await insert(p, body: body, source: source, meta: meta, at: now, in: tx) }
    }

    /// Creates a record inside the caller's transaction (lead conversion creates several in one).
    public func insert(_ p: Principal, body rawBody: [String: JSONValue], source: HistoryEntry.Source = .api, meta: RequestMeta, at now: Date,
                       in tx: any StoreSession) async throws -> Record {
        let body = behavior.translateInput(rawBody)
        let (scope, defs, _) = try await context(p, in: tx)
        var record = Record(id: "\(schema.prefix.rawValue)_\(ULID.make(at: now))", workspaceID: p.workspaceID, values: [:], tags: [],
                            customFields: [:], createdAt: now, updatedAt: now, createdBy: p.userID, version: 1)
        if schema.hasOwner {
            record["owner_id"] = .string(p.userID.rawValue)
            record["visibility"] = .string("workspace")
        }
        try RecordInput(schema: schema, definitions: defs, currency: scope.currency, extraKeys: behavior.extraInputKeys)
            .apply(body, to: &record, isCreate: true)
        try await behavior.prepare(&record, previous: nil, body: body, scope: scope, principal: p, at: now, in: tx)
        schema.derive(&record)
        try await behavior.check(record, previous: nil, scope: scope, principal: p, in: tx)
        try await tx.records.insert(scope, record)
        try await behavior.afterSave(previous: nil, record: record, body: body, scope: scope, principal: p, at: now, in: tx)
        if schema.hasTags, !record.tags.isEmpty { try await tx.records.setTags(scope, id: record.id, tags: record.tags) }
        let empty = Record(id: record.id, workspaceID: record.workspaceID, values: [:], tags: [], customFields: [:], createdAt: now,
                           updatedAt: now, createdBy: nil, version: 0)
        let changes = RecordInput.diff(empty, record, schema: schema)
        try await tx.history.append(historyRows(changes, record: record, p: p, source: source, at: now))
        try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "\(schema.type).created", objectType: schema.type,
                                             objectID: record.id, changes: auditChanges(changes), requestID: meta.requestID, ip: meta.ip, createdAt: now))
        let shown = try await behavior.decorate([record], scope: scope, at: now, in: tx).first ?? record
        try await tx.outbox.append(baseEvent(behavior.createdEvent, shown, p: p, changed: changes.map(\.field), at: now))
        return shown
    }

    public func update(_ p: Principal, id: String, body: [String: JSONValue], ifMatch: Int?, source: HistoryEntry.Source = .api,
                       meta: RequestMeta) async throws -> Record {
        try p.require(writeScope)
        let now = clock.now()
        return try await store.write { tx in try await modify(p, id: id, body: body, ifMatch: ifMatch, source: source, meta: meta, at: now, in: tx) }
    }

    /// Applies a PATCH inside the caller's transaction.
    public func modify(_ p: Principal, id: String, body rawBody: [String: JSONValue], ifMatch: Int?, source: HistoryEntry.Source = .api,
                       meta: RequestMeta, at now: Date, in tx: any StoreSession) async throws -> Record {
        let body = behavior.translateInput(rawBody)
        let expectedVersion = try ExpectedVersion.from(ifMatch: ifMatch, body: body)
        let (scope, defs, _) = try await context(p, in: tx)
        let previous = try await visible(p, id: id, scope: scope, in: tx)
        guard behavior.canModify(previous, principal: p) else {
            throw APIError.forbidden("Only the author or an admin may change this \(schema.type).")
        }
        if let expectedVersion, expectedVersion != previous.version { throw APIError.versionConflict(current: previous.version) }
        var record = previous
        try RecordInput(schema: schema, definitions: defs, currency: scope.currency, extraKeys: behavior.extraInputKeys)
            .apply(body, to: &record, isCreate: false)
        try await behavior.prepare(&record, previous: previous, body: body, scope: scope, principal: p, at: now, in: tx)
        schema.derive(&record)
        let changes = RecordInput.diff(previous, record, schema: schema)
        guard !changes.isEmpty else {
            try await behavior.afterSave(previous: previous, record: previous, body: body, scope: scope, principal: p, at: now, in: tx)
            return previous
        }
        try await behavior.check(record, previous: previous, scope: scope, principal: p, in: tx)
        record.version += 1
        record.updatedAt = now
        try await tx.records.update(scope, record)
        if schema.hasTags, record.tags != previous.tags { try await tx.records.setTags(scope, id: record.id, tags: record.tags) }
        try await behavior.afterSave(previous: previous, record: record, body: body, scope: scope, principal: p, at: now, in: tx)
        try await tx.history.append(historyRows(changes, record: record, p: p, source: source, at: now))
        try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "\(schema.type).updated", objectType: schema.type,
                                             objectID: record.id, changes: auditChanges(changes), requestID: meta.requestID, ip: meta.ip, createdAt: now))
        let previousValues = Dictionary(uniqueKeysWithValues: changes.map { ($0.field, $0.old) })
        let shown = try await behavior.decorate([record], scope: scope, at: now, in: tx).first ?? record
        for type in behavior.eventTypes(previous: previous, record: record, changed: changes.map(\.field)) {
            try await tx.outbox.append(baseEvent(type, shown, p: p, previous: previousValues, changed: changes.map(\.field), at: now))
        }
        return shown
    }

    public func delete(_ p: Principal, id: String, ifMatch: Int?, meta: RequestMeta) async throws {
        try p.require(writeScope)
        let now = clock.now()
        try await store.write { tx in
            let (scope, _, _) = try await context(p, in: tx)
            var record = try await visible(p, id: id, scope: scope, in: tx)
            guard behavior.canModify(record, principal: p) else {
                throw APIError.forbidden("Only the author or an admin may delete this \(schema.type).")
            }
            if let ifMatch, ifMatch != record.version { throw APIError.versionConflict(current: record.version) }
            record.deletedAt = now
            record.version += 1
            record.updatedAt = now
            try await tx.records.update(scope, record)
            try await tx.history.append([HistoryEntry(workspaceID: p.workspaceID, objectType: schema.type, objectID: id, field: "deleted_at",
                                                      oldValue: .null, newValue: .string(Timestamp.format(now)), actor: p.actor, source: .api, at: now)])
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "\(schema.type).deleted", objectType: schema.type,
                                                 objectID: id, requestID: meta.requestID, ip: meta.ip, createdAt: now))
            try await tx.outbox.append(baseEvent("\(schema.type).deleted", record, p: p, at: now))
        }
    }

    public static let restoreWindow: TimeInterval = 30 * 24 * 3600

    public func restore(_ p: Principal, id: String, meta: RequestMeta) async throws -> Record {
        try p.require(writeScope)
        let now = clock.now()
        return try await store.write { tx in
            let (scope, _, _) = try await context(p, in: tx)
            var record = try await visible(p, id: id, scope: scope, in: tx, allowDeleted: true)
            guard let deletedAt = record.deletedAt else { return record }
            guard now.timeIntervalSince(deletedAt) <= RecordService.restoreWindow else { throw APIError.notFound(schema.type.capitalized) }
            if record.mergedInto != nil { throw APIError.conflict("A merged record cannot be restored.") }
            for field in behavior.uniqueFields {
                guard let value = record.string(field),
                      let other = try await tx.records.find(scope, field: field, value: value, limit: 2).first(where: { $0.id != record.id }) else { continue }
                throw APIError.duplicate(field, existingID: other.isVisible(to: p) ? other.id : nil,
                                         message: "A live \(schema.type) now holds this \(field); change it before restoring.")
            }
            record.deletedAt = nil
            record.version += 1
            record.updatedAt = now
            do {
                try await tx.records.update(scope, record)
            } catch is UniqueViolation {
                throw APIError.conflict("Another live record now holds this record's unique value; change it before restoring.")
            }
            try await tx.history.append([HistoryEntry(workspaceID: p.workspaceID, objectType: schema.type, objectID: id, field: "deleted_at",
                                                      oldValue: .string(Timestamp.format(deletedAt)), newValue: .null, actor: p.actor, source: .api, at: now)])
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "\(schema.type).restored", objectType: schema.type,
                                                 objectID: id, requestID: meta.requestID, ip: meta.ip, createdAt: now))
            try await tx.outbox.append(baseEvent("\(schema.type).restored", record, p: p, at: now))
            return record
        }
    }

    // MARK: History and timeline

    public func history(_ p: Principal, id: String, page: PageRequest) async throws -> Page<HistoryEntry> {
        try p.require(readScope)
        let fingerprint = "history|\(schema.type)|\(id)"
        let before = try cursors.decode(page, fingerprint: fingerprint).flatMap(TimelineCursor.decode)
        let rows = try await store.read { tx in
            let (scope, _, _) = try await readContext(p, in: tx)
            _ = try await visible(p, id: id, scope: scope, in: tx)
            return try await tx.history.list(p.workspaceID, objectType: schema.type, objectID: id, before: before, limit: page.limit + 1)
        }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { TimelineCursor.encode($0.at, $0.id) }
    }

    public func timeline(_ p: Principal, id: String, page: PageRequest) async throws -> Page<TimelineItem> {
        try p.require(readScope)
        let fingerprint = "timeline|\(schema.type)|\(id)"
        let before = try cursors.decode(page, fingerprint: fingerprint).flatMap(TimelineCursor.decode)
        let limit = page.limit + 1
        let items = try await store.read { tx -> [TimelineItem] in
            let (scope, _, _) = try await readContext(p, in: tx)
            _ = try await visible(p, id: id, scope: scope, in: tx)
            var items = try await tx.history.list(p.workspaceID, objectType: schema.type, objectID: id, before: before, limit: limit)
                .map(TimelineItem.init(change:))
            for source in timelineSources {
                items += try await source.items(objectType: schema.type, objectID: id, before: before, limit: limit, principal: p,
                                                currency: scope.currency, in: tx)
            }
            return items
        }
        let sorted = items.sorted { ($0.at, $0.id) > ($1.at, $1.id) }
        return cursors.page(Array(sorted.prefix(limit)), limit: page.limit, fingerprint: fingerprint) { TimelineCursor.encode($0.at, $0.id) }
    }
}

/// One entry of `GET /{objects}/{id}/timeline`.
public struct TimelineItem: Sendable {
    public var type: String
    public var id: String
    public var at: Date
    public var actor: ActorRef
    public var data: JSONValue

    public init(type: String, id: String, at: Date, actor: ActorRef, data: JSONValue) {
        self.type = type
        self.id = id
        self.at = at
        self.actor = actor
        self.data = data
    }

    init(change h: HistoryEntry) {
        self.init(type: "change", id: h.id, at: h.at, actor: h.actor,
                  data: .object(["field": .string(h.field), "old": h.oldValue, "new": h.newValue, "source": .string(h.source.rawValue)]))
    }

    init(note r: Record, json: JSONValue) {
        self.init(type: "note", id: r.id, at: r.createdAt, actor: ActorRef(type: .user, id: r.createdBy?.rawValue), data: json)
    }
}

enum TimelineCursor {
    static func encode(_ at: Date, _ id: String) -> [String?] { [String(Timestamp.millis(at)), id] }
    static func decode(_ c: Cursor) -> (Date, String)? {
        guard c.values.count == 2, let a = c.values[0], let ms = Int64(a), let id = c.values[1] else { return nil }
        return (Timestamp.date(ms), id)
    }
}
