import Foundation

/// Automations as users manage them, plus the hand-started runs (`trigger`, `run`, `test`).
public struct AutomationService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let cursors: CursorCodec
    let executor: AutomationExecutor
    static let read = Scope("automations", .read)
    static let write = Scope("automations", .write)

    public init(store: any Store, clock: any KeelClock, cursors: CursorCodec, executor: AutomationExecutor) {
        self.store = store
        self.clock = clock
        self.cursors = cursors
        self.executor = executor
    }

    func timezone(_ ws: WorkspaceID, in tx: any StoreSession) async throws -> TimeZone {
        let w = try await tx.identity.workspace(ws)
        return w.flatMap { TimeZone(identifier: $0.timezone) } ?? .gmt
    }

    /// Ids inside the definition must name this workspace's users and stages (422 `not_found` otherwise).
    func checkReferences(_ def: AutomationDefinition, ws: WorkspaceID, in tx: any StoreSession) async throws {
        for (i, action) in def.actions.enumerated() {
            var users: [String] = []
            if let u = action.config["user_id"]?.stringValue { users.append(u) }
            if let u = action.config["assignee_id"]?.stringValue { users.append(u) }
            if case .array(let list)? = action.config["user_ids"] { users += list.compactMap(\.stringValue) }
            for u in users {
                guard let id = UserID(u), try await tx.identity.member(ws, userID: id) != nil else {
                    throw APIError.validation("actions[\(i)].config", "not_found", "\(u) is not a member of this workspace.")
                }
            }
            if let s = action.config["stage_id"]?.stringValue {
                guard let stage = try await tx.pipelines.stage(ws, id: s), stage.deletedAt == nil else {
                    throw APIError.validation("actions[\(i)].config.stage_id", "not_found", "stage_id does not name a stage of this workspace.")
                }
            }
        }
    }

    static func nextRun(_ def: AutomationDefinition, tz: TimeZone, now: Date) -> Date? {
        guard def.isActive, def.trigger.isSchedule, let cron = def.trigger.cron, let schedule = try? CronSchedule(cron) else { return nil }
        return schedule.next(after: now, in: tz)
    }

    func audit(_ p: Principal, _ action: String, _ a: Automation, meta: RequestMeta, at now: Date, in tx: any StoreSession) async throws {
        try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: action, objectType: "automation",
                                             objectID: a.id.rawValue, changes: .object(["name": .string(a.name), "is_active": .bool(a.isActive)]),
                                             requestID: meta.requestID, ip: meta.ip, createdAt: now))
    }

    public func create(_ p: Principal, body: [String: JSONValue], meta: RequestMeta) async throws -> Automation {
        try p.require(AutomationService.write)
        let now = clock.now()
        return try await store.write { tx in
            let tz = try await timezone(p.workspaceID, in: tx)
            let def = try AutomationDefinition.parse(body, timezone: tz, now: now)
            try await checkReferences(def, ws: p.workspaceID, in: tx)
            let a = Automation(id: .generate(at: now), workspaceID: p.workspaceID, name: def.name, description: def.description, isActive: def.isActive,
                               trigger: def.trigger, actions: def.actions, nextRunAt: AutomationService.nextRun(def, tz: tz, now: now),
                               createdBy: p.userID, createdAt: now, updatedAt: now)
            try await tx.automations.insert(a)
            try await audit(p, "automation.created", a, meta: meta, at: now, in: tx)
            return a
        }
    }

    public func get(_ p: Principal, id: AutomationID) async throws -> Automation {
        try p.require(AutomationService.read)
        guard let a = try await store.read({ try await $0.automations.get(p.workspaceID, id: id) }) else { throw APIError.notFound("Automation") }
        return a
    }

    public func list(_ p: Principal, isActive: Bool?, page: PageRequest) async throws -> Page<Automation> {
        try p.require(AutomationService.read)
        let fingerprint = "automations|\(isActive.map(String.init) ?? "")"
        let before = try cursors.decodeID(page, fingerprint: fingerprint)
        let rows = try await store.read { try await $0.automations.list(p.workspaceID, isActive: isActive, before: before, limit: page.limit + 1) }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
    }

    public func update(_ p: Principal, id: AutomationID, body: [String: JSONValue], ifMatch: Int?, meta: RequestMeta) async throws -> Automation {
        try p.require(AutomationService.write)
        let expectedVersion = try ExpectedVersion.from(ifMatch: ifMatch, body: body)
        let now = clock.now()
        return try await store.write { tx in
            guard var a = try await tx.automations.get(p.workspaceID, id: id) else { throw APIError.notFound("Automation") }
            let tz = try await timezone(p.workspaceID, in: tx)
            let def = try AutomationDefinition.parse(body, over: a, timezone: tz, now: now)
            if let expectedVersion, expectedVersion != a.version { throw APIError.versionConflict(current: a.version) }
            try await checkReferences(def, ws: p.workspaceID, in: tx)
            let before = a
            a.name = def.name
            a.description = def.description
            a.isActive = def.isActive
            a.trigger = def.trigger
            a.actions = def.actions
            guard a != before else { return a }
            // A schedule restarts from now when it is switched on or its cron changes.
            if !def.isActive || !def.trigger.isSchedule {
                a.nextRunAt = nil
            } else if !before.isActive || before.trigger.cron != def.trigger.cron || before.nextRunAt == nil {
                a.nextRunAt = AutomationService.nextRun(def, tz: tz, now: now)
            }
            a.version += 1
            a.updatedAt = now
            try await tx.automations.update(a)
            try await audit(p, "automation.updated", a, meta: meta, at: now, in: tx)
            return a
        }
    }

    public func delete(_ p: Principal, id: AutomationID, meta: RequestMeta) async throws {
        try p.require(AutomationService.write)
        let now = clock.now()
        try await store.write { tx in
            guard let a = try await tx.automations.get(p.workspaceID, id: id) else { throw APIError.notFound("Automation") }
            try await tx.automations.delete(p.workspaceID, id: id)
            try await audit(p, "automation.deleted", a, meta: meta, at: now, in: tx)
        }
    }

    public func runs(_ p: Principal, id: AutomationID, status: String?, page: PageRequest) async throws -> Page<AutomationRun> {
        try p.require(AutomationService.read)
        let statusFilter = try status.map { raw in
            guard let s = AutomationRun.Status(rawValue: raw) else {
                throw APIError.badRequest("status is one of \(AutomationRun.Status.allCases.map(\.rawValue).joined(separator: ", ")).", field: "status")
            }
            return s
        }
        let fingerprint = "runs|\(id.rawValue)|\(status ?? "")"
        let before = try cursors.decodeID(page, fingerprint: fingerprint)
        let rows = try await store.read { tx in
            guard try await tx.automations.get(p.workspaceID, id: id) != nil else { throw APIError.notFound("Automation") }
            return try await tx.automations.runs(p.workspaceID, automationID: id, status: statusFilter, before: before, limit: page.limit + 1)
        }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
    }

    public func run(_ p: Principal, runID: RunID) async throws -> AutomationRun {
        try p.require(AutomationService.read)
        guard let r = try await store.read({ try await $0.automations.run(p.workspaceID, id: runID) }) else { throw APIError.notFound("Run") }
        return r
    }

    static func objectID(_ body: [String: JSONValue], allowed: Set<String>) throws -> String {
        for key in body.keys.sorted() where !allowed.contains(key) { throw APIError.validation(key, "unknown_field", "Unknown field \(key).") }
        guard case .string(let id)? = body["object_id"], !id.isEmpty, id.count <= 64 else {
            throw APIError.validation("object_id", "required", "object_id is required.")
        }
        return id
    }

    /// The record an id names, checked against the automation's object type.
    func subject(_ p: Principal, objectID: String, objectType: String) async throws -> AutomationSubject {
        let prefix = objectID.split(separator: "_").first.map(String.init) ?? ""
        guard AutomationDefinition.schemas[objectType]?.prefix.rawValue == prefix else {
            throw APIError.validation("object_id", "invalid_value", "This automation runs on \(objectType) records.")
        }
        guard let s = try await executor.currentSubject(p.workspaceID, objectType: objectType, objectID: objectID, viewer: p) else {
            throw APIError.validation("object_id", "not_found", "object_id does not name a \(objectType) you can see.")
        }
        return s
    }

    /// The automation and the record named by `{object_id}` (for `run` and `test`).
    func target(_ p: Principal, id: AutomationID, body: [String: JSONValue]) async throws -> (Automation, AutomationSubject) {
        let objectID = try AutomationService.objectID(body, allowed: ["object_id"])
        let a = try await get(p, id: id)
        return (a, try await subject(p, objectID: objectID, objectType: a.trigger.objectType))
    }

    /// `POST /automations/{id}/run`: runs one automation now, for real, on one record.
    public func runNow(_ p: Principal, id: AutomationID, body: [String: JSONValue]) async throws -> AutomationRun {
        try p.require(AutomationService.write)
        let (a, subject) = try await target(p, id: id, body: body)
        return try await executor.startManual(a, subject: subject)
    }

    /// `POST /automations/trigger`: runs every active automation on `event` for one record.
    public func trigger(_ p: Principal, body: [String: JSONValue]) async throws -> [AutomationRun] {
        try p.require(AutomationService.write)
        let objectID = try AutomationService.objectID(body, allowed: ["event", "object_id"])
        guard case .string(let event)? = body["event"], EventCatalog.all.contains(where: { $0.type == event }) || event == "schedule" else {
            throw APIError.validation("event", "invalid_value", "event must be an event type (see GET /event-types) or schedule.")
        }
        let matching = try await store.read { try await $0.automations.list(p.workspaceID, isActive: true, before: nil, limit: 1000) }
            .filter { $0.trigger.event == event }
        guard let objectType = matching.first?.trigger.objectType ?? (event == "schedule" ? nil : event.split(separator: ".").first.map(String.init)) else {
            return []
        }
        let subject = try await subject(p, objectID: objectID, objectType: objectType)
        var runs: [AutomationRun] = []
        for a in matching.sorted(by: { $0.id < $1.id }) where a.trigger.objectType == objectType {
            runs.append(try await executor.startManual(a, subject: subject))
        }
        return runs
    }

    /// `POST /automations/{id}/test`: evaluates conditions and renders actions without changing anything.
    public func test(_ p: Principal, id: AutomationID, body: [String: JSONValue]) async throws -> JSONValue {
        try p.require(AutomationService.read)
        let (a, subject) = try await target(p, id: id, body: body)
        return try await executor.dryRun(a, subject: subject)
    }

    public static func render(_ a: Automation) -> JSONValue {
        .object([
            "id": .string(a.id.rawValue), "name": .string(a.name), "description": a.description.map(JSONValue.string) ?? .null,
            "is_active": .bool(a.isActive), "trigger": a.trigger.json, "actions": .array(a.actions.map(\.json)),
            "next_run_at": a.nextRunAt.map { .string(Timestamp.format($0)) } ?? .null, "created_by": .string(a.createdBy.rawValue),
            "created_at": .string(Timestamp.format(a.createdAt)), "updated_at": .string(Timestamp.format(a.updatedAt)),
            "version": .number(String(a.version)),
        ])
    }

    public static func render(_ r: AutomationRun) -> JSONValue {
        .object([
            "id": .string(r.id.rawValue), "automation_id": .string(r.automationID.rawValue), "event_id": r.eventID.map(JSONValue.string) ?? .null,
            "source": .string(r.source.rawValue), "object_type": r.objectType.map(JSONValue.string) ?? .null,
            "object_id": r.objectID.map(JSONValue.string) ?? .null, "status": .string(r.status.rawValue),
            "causation_depth": .number(String(r.causationDepth)), "actions": .array(r.actions.map(\.json)),
            "error": r.error.map(JSONValue.string) ?? .null, "created_at": .string(Timestamp.format(r.createdAt)),
            "finished_at": r.finishedAt.map { .string(Timestamp.format($0)) } ?? .null,
        ])
    }
}
