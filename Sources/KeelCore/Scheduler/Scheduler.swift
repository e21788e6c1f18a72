import Foundation
import Logging

public protocol SchedulerRepository: Sendable {
    /// Workspaces not scheduled for deletion.
    func liveWorkspaces() async throws -> [Workspace]
    /// Open tasks past their due date with no `task.overdue` mark for that due date.
    func overdueTasks(_ workspaceID: WorkspaceID, now: Date, limit: Int) async throws -> [(id: String, episode: String)]
    /// Open deals past their rot days with no `deal.stale` mark for the current staleness episode.
    func staleDeals(_ workspaceID: WorkspaceID, now: Date, defaultRotDays: Int, limit: Int) async throws -> [(id: String, episode: String)]
    /// Records a once-only happening; false when it was already recorded (by this or another instance).
    func mark(_ workspaceID: WorkspaceID, kind: String, objectID: String, episode: String, at: Date) async throws -> Bool
    /// Hard-deletes records soft-deleted before `before` (with their tags and links).
    func purgeSoftDeleted(before: Date) async throws -> Int
    /// Removes every row of workspaces whose deletion grace period ended before `before`.
    func purgeWorkspaces(before: Date) async throws -> Int
}

/// Time-based work: `task.overdue`, `deal.stale`, scheduled automations and retention. Safe on many instances at once:
/// every happening is claimed through a unique mark or a compare-and-set in the same transaction as its effect.
public struct Scheduler: Sendable {
    let store: any Store
    let clock: any KeelClock
    let tasks: RecordService
    let deals: RecordService
    let services: [String: RecordService]
    let logger: Logger
    public static let batch = 200
    public static let maxRunsPerFiring = 1000
    public static let retention: TimeInterval = 30 * 86_400

    public init(store: any Store, clock: any KeelClock, services: [String: RecordService], logger: Logger) throws {
        guard let tasks = services["task"], let deals = services["deal"] else { throw APIError(.internalError, "Scheduler needs task and deal services.") }
        self.store = store
        self.clock = clock
        self.tasks = tasks
        self.deals = deals
        self.services = services
        self.logger = logger
    }

    public struct TickReport: Sendable, Equatable {
        public var overdue = 0
        public var stale = 0
        public var scheduledRuns = 0
        public init() {}
    }

    /// One pass over every workspace.
    @discardableResult
    public func tick() async throws -> TickReport {
        var report = TickReport()
        let now = clock.now()
        for ws in try await store.read({ try await $0.scheduler.liveWorkspaces() }) {
            let overdue = try await store.read { try await $0.scheduler.overdueTasks(ws.id, now: now, limit: Scheduler.batch) }
            report.overdue += try await emit("task.overdue", candidates: overdue, service: tasks, ws: ws.id, at: now)
            let stale = try await store.read {
                try await $0.scheduler.staleDeals(ws.id, now: now, defaultRotDays: ws.settings.defaultRotDays, limit: Scheduler.batch)
            }
            report.stale += try await emit("deal.stale", candidates: stale, service: deals, ws: ws.id, at: now)
        }
        report.scheduledRuns = try await fireSchedules(now: now)
        return report
    }

    func emit(_ type: String, candidates: [(id: String, episode: String)], service: RecordService, ws: WorkspaceID, at now: Date) async throws -> Int {
        guard !candidates.isEmpty else { return 0 }
        var rendered: [(String, String, JSONValue)] = []
        for c in candidates {
            guard let r = try? await service.get(Principal.system(ws), id: c.id) else { continue }
            rendered.append((c.id, c.episode, service.render(r)))
        }
        let items = rendered
        return try await store.write { tx in
            var emitted = 0
            for (id, episode, object) in items {
                guard try await tx.scheduler.mark(ws, kind: type, objectID: id, episode: episode, at: now) else { continue }
                try await tx.outbox.append(OutboxEvent(workspaceID: ws, type: type, occurredAt: now, actor: .system, objectType: service.schema.type,
                                                       objectID: id, payload: .object(["object": object, "previous": .object([:]),
                                                                                       "changed_fields": .array([])])))
                emitted += 1
            }
            return emitted
        }
    }

    /// Fires due schedules: one run per matching record, queued for the automation runner.
    func fireSchedules(now: Date) async throws -> Int {
        var queued = 0
        for a in try await store.read({ try await $0.automations.dueSchedules(now: now, limit: 100) }) {
            guard let due = a.nextRunAt, let cron = a.trigger.cron, let schedule = try? CronSchedule(cron) else { continue }
            let tz = try await store.read { try await $0.identity.workspace(a.workspaceID) }.flatMap { TimeZone(identifier: $0.timezone) } ?? .gmt
            let next = schedule.next(after: now, in: tz)
            guard try await store.write({ try await $0.automations.advanceSchedule(a.workspaceID, id: a.id, from: due, to: next) }) else { continue }
            guard let service = services[a.trigger.objectType] else { continue }
            let conditions = a.trigger.conditions.map { c -> JSONValue in
                .object(["field": .string(String(c.field.drop(while: { $0 != "." }).dropFirst())), "op": .string(c.op.rawValue), "value": c.value])
            }
            let filter: JSONValue? = conditions.isEmpty ? nil : .object(["and": .array(conditions)])
            var cursor: String?
            var ids: [String] = []
            repeat {
                let page = try await service.search(Principal.system(a.workspaceID),
                                                    body: SearchBody(filter: filter, sort: ["created_at"], q: nil, limit: 200, cursor: cursor, includeTotal: false))
                ids += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil && ids.count < Scheduler.maxRunsPerFiring
            if ids.count > Scheduler.maxRunsPerFiring {
                logger.warning("schedule matched more records than one firing runs", metadata: ["automation_id": .string(a.id.rawValue)])
            }
            let batch = Array(ids.prefix(Scheduler.maxRunsPerFiring))
            try await store.write { tx in
                var ids = ULID.Sequence(at: now)
                for id in batch {
                    try await tx.automations.insertRun(AutomationRun(id: RunID(trusted: "run_" + ids.next()), workspaceID: a.workspaceID, automationID: a.id, eventID: nil,
                                                                     source: .schedule, objectType: a.trigger.objectType, objectID: id,
                                                                     status: .pending, causationDepth: 0, createdAt: now))
                }
            }
            queued += batch.count
        }
        return queued
    }

    public struct PurgeReport: Sendable, Equatable {
        public var records = 0
        public var events = 0
        public var deliveries = 0
        public var runs = 0
        public var idempotencyKeys = 0
        public var workspaces = 0
        public init() {}
    }

    /// Retention: soft-deleted records, events, delivery logs and runs after 30 days; idempotency keys after 24 h; deleted workspaces after grace.
    @discardableResult
    public func purge() async throws -> PurgeReport {
        let now = clock.now()
        let cutoff = now.addingTimeInterval(-Scheduler.retention)
        var r = PurgeReport()
        r.records = try await store.write { try await $0.scheduler.purgeSoftDeleted(before: cutoff) }
        r.events = try await store.write { try await $0.outbox.purge(before: cutoff) }
        r.deliveries = try await store.write { try await $0.webhooks.purgeDeliveries(before: cutoff) }
        r.runs = try await store.write { try await $0.automations.purgeRuns(before: cutoff) }
        r.idempotencyKeys = try await store.write { try await $0.idempotency.purgeExpired(before: now) }
        r.workspaces = try await store.write { try await $0.scheduler.purgeWorkspaces(before: now) }
        return r
    }
}
