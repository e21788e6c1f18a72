import Foundation

public struct EventFilter: Sendable {
    /// Exact types, or `prefix.*` wildcards.
    public var types: [String]
    public var objectID: String?
    public var after: Date?
    public var before: Date?
    public init(types: [String], objectID: String?, after: Date?, before: Date?) {
        self.types = types
        self.objectID = objectID
        self.after = after
        self.before = before
    }
}

/// The event feed (`GET /events`): the outbox as integrators see it, 30 days deep, private records hidden.
public struct EventService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let cursors: CursorCodec
    public static let retention: TimeInterval = 30 * 24 * 3600

    public init(store: any Store, clock: any KeelClock, cursors: CursorCodec) {
        self.store = store
        self.clock = clock
        self.cursors = cursors
    }

    static let known: Set<String> = Set(EventCatalog.all.map(\.type))

    public static func validateType(_ t: String) -> Bool {
        if t.hasSuffix(".*") { return known.contains { $0.hasPrefix(String(t.dropLast(1))) } }
        return known.contains(t)
    }

    /// Events about a private record are shown only to those who may open it.
    static func visible(_ e: OutboxEvent, to p: Principal) -> Bool {
        guard p.role < .admin, case .object(let payload) = e.payload, case .object(let object)? = payload["object"] else { return true }
        return object["visibility"]?.stringValue != "private" || object["owner_id"]?.stringValue == p.userID.rawValue
    }

    public func list(_ p: Principal, filter: EventFilter, page: PageRequest) async throws -> Page<OutboxEvent> {
        try p.require(Scope("webhooks", .read))
        for t in filter.types where !EventService.validateType(t) {
            throw APIError.badRequest("Unknown event type \(t); see GET /event-types.", field: "type")
        }
        let floor = clock.now().addingTimeInterval(-EventService.retention)
        let fingerprint = "events|\(filter.types.joined(separator: ","))|\(filter.objectID ?? "")|\(filter.after.map(Timestamp.format) ?? "")|\(filter.before.map(Timestamp.format) ?? "")"
        var before = try cursors.decodeID(page, fingerprint: fingerprint)
        var out: [OutboxEvent] = []
        // Hidden events are skipped while scanning, so pages stay full without leaking that they exist.
        scan: while out.count <= page.limit {
            let after = max(floor, filter.after ?? floor)
            let cursor = before
            let batch = try await store.read {
                try await $0.outbox.list(p.workspaceID, filter: EventFilter(types: filter.types, objectID: filter.objectID, after: after, before: filter.before),
                                         beforeID: cursor, limit: 200)
            }
            for e in batch {
                if EventService.visible(e, to: p) { out.append(e) }
                if out.count > page.limit { break scan }
            }
            guard batch.count == 200, let last = batch.last else { break }
            before = last.id.rawValue
        }
        return cursors.page(out, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
    }

    public func get(_ p: Principal, id: EventID) async throws -> OutboxEvent {
        try p.require(Scope("webhooks", .read))
        let floor = clock.now().addingTimeInterval(-EventService.retention)
        guard let e = try await store.read({ try await $0.outbox.get(p.workspaceID, id: id) }), e.occurredAt >= floor, EventService.visible(e, to: p) else {
            throw APIError.notFound("Event")
        }
        return e
    }

    public static func render(_ e: OutboxEvent) -> JSONValue {
        .object(["id": .string(e.id.rawValue), "type": .string(e.type), "occurred_at": .string(Timestamp.format(e.occurredAt)),
                 "workspace_id": .string(e.workspaceID.rawValue), "actor": .from(e.actor), "data": e.payload])
    }
}

/// Every event type with a description and a sample payload (for webhook and automation builders).
public enum EventCatalog {
    public struct Entry: Sendable {
        public let type: String
        public let description: String
    }

    static let objects = ["contact", "company", "lead", "deal", "product", "task", "note", "pipeline"]

    public static let all: [Entry] = {
        var out: [Entry] = []
        for o in objects {
            out.append(Entry(type: "\(o).created", description: "A \(o) was created."))
            out.append(Entry(type: "\(o).updated", description: "A \(o) changed (data.previous holds the old values of data.changed_fields)."))
            out.append(Entry(type: "\(o).deleted", description: "A \(o) was soft-deleted (restorable for 30 days)."))
            out.append(Entry(type: "\(o).restored", description: "A soft-deleted \(o) was restored."))
        }
        out += [
            Entry(type: "contact.merged", description: "Contacts were merged into this one (data.merged_ids)."),
            Entry(type: "company.merged", description: "Companies were merged into this one (data.merged_ids)."),
            Entry(type: "lead.converted", description: "A lead was converted into a contact, a company and possibly a deal."),
            Entry(type: "deal.stage_changed", description: "A deal moved to another stage."),
            Entry(type: "deal.won", description: "A deal entered a won stage."),
            Entry(type: "deal.lost", description: "A deal entered a lost stage."),
            Entry(type: "deal.reopened", description: "A closed deal moved back to an open stage."),
            Entry(type: "deal.stale", description: "An open deal has had no activity for its stage's rot_days."),
            Entry(type: "task.completed", description: "A task was completed."),
            Entry(type: "task.overdue", description: "A task passed its due date unfinished (sent once)."),
            Entry(type: "activity.logged", description: "An activity (call, meeting, e-mail...) was logged."),
            Entry(type: "activity.updated", description: "A logged activity was corrected."),
            Entry(type: "activity.deleted", description: "A logged activity was deleted."),
            Entry(type: "activity.restored", description: "A deleted activity was restored."),
            Entry(type: "import.completed", description: "An import job finished."),
            Entry(type: "webhook.test", description: "A test delivery asked for with POST /webhooks/{id}/test."),
        ]
        return out
    }()

    public static func sample(_ type: String) -> JSONValue {
        let object = String(type.split(separator: ".").first ?? "contact")
        let prefix = IDPrefix.allCases.first { ["contact": "con", "company": "com", "lead": "lead", "deal": "deal", "product": "prd", "task": "task",
                                                "note": "note", "pipeline": "pipe", "activity": "act", "import": "imp", "webhook": "whk"][object] == $0.rawValue }
        let id = "\(prefix?.rawValue ?? "evt")_01JD5X8Q2M7V3R9K4T6W8Y0Z1A"
        return .object([
            "id": .string("evt_01JD5X8Q2M7V3R9K4T6W8Y0Z1B"), "type": .string(type), "occurred_at": .string("2026-03-16T12:00:00.000Z"),
            "workspace_id": .string("wsp_01JD5X8Q2M7V3R9K4T6W8Y0Z1C"), "actor": .object(["type": .string("user"), "id": .string("usr_01JD5X8Q2M7V3R9K4T6W8Y0Z1D")]),
            "data": .object(["object": .object(["id": .string(id), "version": .number("2")]),
                             "previous": type.hasSuffix(".updated") ? .object(["name": .string("Old name")]) : .object([:]),
                             "changed_fields": .array(type.hasSuffix(".updated") ? [.string("name")] : [])]),
        ])
    }
}
