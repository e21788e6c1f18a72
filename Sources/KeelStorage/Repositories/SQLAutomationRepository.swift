import Foundation
import KeelCore
import SQLKit

struct SQLAutomationRepository: AutomationRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func decode(_ r: any SQLRow) throws -> Automation {
        let triggerJSON = JSONValue.parse(try r.string("trigger"))?.objectValue ?? [:]
        let conditions: [AutomationCondition] = {
            guard case .array(let items)? = triggerJSON["conditions"] else { return [] }
            return items.compactMap { c in
                guard let o = c.objectValue, let f = o["field"]?.stringValue, let op = o["op"]?.stringValue.flatMap(FilterOp.init) else { return nil }
                return AutomationCondition(field: f, op: op, value: o["value"] ?? .null)
            }
        }()
        let trigger = AutomationTrigger(event: try r.string("trigger_event"), cron: try r.optionalString("cron"),
                                        objectType: try r.optionalString("object_type") ?? "", conditions: conditions)
        var actions: [AutomationAction] = []
        if case .array(let items)? = JSONValue.parse(try r.string("actions")) {
            actions = items.compactMap { a in
                guard let o = a.objectValue, let t = o["type"]?.stringValue.flatMap(AutomationAction.Kind.init) else { return nil }
                return AutomationAction(type: t, config: o["config"]?.objectValue ?? [:])
            }
        }
        return Automation(id: try r.id("id"), workspaceID: try r.id("workspace_id"), name: try r.string("name"),
                          description: try r.optionalString("description"), isActive: try r.int("is_active") != 0, trigger: trigger, actions: actions,
                          nextRunAt: try r.optionalDate("next_run_at"), createdBy: try r.id("created_by"), createdAt: try r.date("created_at"),
                          updatedAt: try r.date("updated_at"), version: try r.int("version"))
    }

    func triggerJSON(_ a: Automation) -> String {
        JSONValue.object(["conditions": .array(a.trigger.conditions.map(\.json))]).jsonString()
    }

    func insert(_ a: Automation) async throws {
        try await db.raw("""
            INSERT INTO automations (workspace_id, id, name, description, is_active, trigger_event, trigger, actions, object_type, cron, next_run_at,
                created_by, created_at, updated_at, version)
            VALUES (\(bind: a.workspaceID.rawValue), \(bind: a.id.rawValue), \(bind: a.name), \(bind: a.description), \(bind: Int64(a.isActive ? 1 : 0)),
                \(bind: a.trigger.event), \(bind: triggerJSON(a)), \(bind: JSONValue.array(a.actions.map(\.json)).jsonString()),
                \(bind: a.trigger.objectType), \(bind: a.trigger.cron), \(bind: ms(a.nextRunAt)), \(bind: a.createdBy.rawValue),
                \(bind: ms(a.createdAt)), \(bind: ms(a.updatedAt)), \(bind: Int64(a.version)))
            """).run()
    }

    func get(_ ws: WorkspaceID, id: AutomationID) async throws -> Automation? {
        try await db.raw("SELECT * FROM automations WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)").first().map(decode)
    }

    func list(_ ws: WorkspaceID, isActive: Bool?, before: String?, limit: Int) async throws -> [Automation] {
        var q: SQLQueryString = "SELECT * FROM automations WHERE workspace_id = \(bind: ws.rawValue)"
        if let isActive { q += " AND is_active = \(bind: Int64(isActive ? 1 : 0))" }
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decode)
    }

    func update(_ a: Automation) async throws {
        try await db.raw("""
            UPDATE automations SET name = \(bind: a.name), description = \(bind: a.description), is_active = \(bind: Int64(a.isActive ? 1 : 0)),
                trigger_event = \(bind: a.trigger.event), trigger = \(bind: triggerJSON(a)), actions = \(bind: JSONValue.array(a.actions.map(\.json)).jsonString()),
                object_type = \(bind: a.trigger.objectType), cron = \(bind: a.trigger.cron), next_run_at = \(bind: ms(a.nextRunAt)),
                updated_at = \(bind: ms(a.updatedAt)), version = \(bind: Int64(a.version))
            WHERE workspace_id = \(bind: a.workspaceID.rawValue) AND id = \(bind: a.id.rawValue)
            """).run()
    }

    func delete(_ ws: WorkspaceID, id: AutomationID) async throws {
        try await db.raw("DELETE FROM automations WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)").run()
    }

    func eventTriggered(_ workspaceIDs: [WorkspaceID]) async throws -> [Automation] {
        guard !workspaceIDs.isEmpty else { return [] }
        let list = boundList(workspaceIDs.map(\.rawValue))
        return try await db.raw("SELECT * FROM automations WHERE workspace_id IN (" + list + ") AND is_active = 1 AND trigger_event <> 'schedule' ORDER BY id")
            .all().map(decode)
    }

    func dueSchedules(now: Date, limit: Int) async throws -> [Automation] {
        try await db.raw("""
            SELECT * FROM automations WHERE is_active = 1 AND trigger_event = 'schedule' AND next_run_at <= \(bind: ms(now))
            ORDER BY next_run_at LIMIT \(bind: Int64(limit))
            """).all().map(decode)
    }

    func advanceSchedule(_ ws: WorkspaceID, id: AutomationID, from: Date, to: Date?) async throws -> Bool {
        try await db.raw("""
            UPDATE automations SET next_run_at = \(bind: ms(to))
            WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue) AND next_run_at = \(bind: ms(from)) RETURNING id
            """).first() != nil
    }

    func nextRoundRobin(_ ws: WorkspaceID, id: AutomationID) async throws -> Int {
        let row = try await db.raw("""
            UPDATE automations SET round_robin = round_robin + 1 WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)
            RETURNING round_robin
            """).first()
        return max(0, (try row?.int("round_robin") ?? 1) - 1)
    }

    func decodeRun(_ r: any SQLRow) throws -> AutomationRun {
        var actions: [AutomationRun.ActionResult] = []
        if case .array(let items)? = JSONValue.parse(try r.string("actions")) { actions = items.compactMap(AutomationRun.ActionResult.parse) }
        return AutomationRun(id: try r.id("id"), workspaceID: try r.id("workspace_id"), automationID: try r.id("automation_id"),
                             eventID: try r.optionalString("event_id"), source: AutomationRun.Source(rawValue: try r.string("source")) ?? .event,
                             objectType: try r.optionalString("object_type"), objectID: try r.optionalString("object_id"),
                             status: AutomationRun.Status(rawValue: try r.string("status")) ?? .failed, causationDepth: try r.int("causation_depth"),
                             actions: actions, error: try r.optionalString("error"), createdAt: try r.date("created_at"),
                             finishedAt: try r.optionalDate("finished_at"))
    }

    func insertRun(_ run: AutomationRun) async throws {
        try await db.raw("""
            INSERT INTO automation_runs (workspace_id, id, automation_id, event_id, source, object_type, object_id, status, causation_depth, actions,
                error, created_at, finished_at)
            VALUES (\(bind: run.workspaceID.rawValue), \(bind: run.id.rawValue), \(bind: run.automationID.rawValue), \(bind: run.eventID),
                \(bind: run.source.rawValue), \(bind: run.objectType), \(bind: run.objectID), \(bind: run.status.rawValue),
                \(bind: Int64(run.causationDepth)), \(bind: JSONValue.array(run.actions.map(\.json)).jsonString()), \(bind: run.error),
                \(bind: ms(run.createdAt)), \(bind: ms(run.finishedAt)))
            """).run()
    }

    func run(_ ws: WorkspaceID, id: RunID) async throws -> AutomationRun? {
        try await db.raw("SELECT * FROM automation_runs WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)").first().map(decodeRun)
    }

    func runs(_ ws: WorkspaceID, automationID: AutomationID, status: AutomationRun.Status?, before: String?, limit: Int) async throws -> [AutomationRun] {
        var q: SQLQueryString = "SELECT * FROM automation_runs WHERE workspace_id = \(bind: ws.rawValue) AND automation_id = \(bind: automationID.rawValue)"
        if let status { q += " AND status = \(bind: status.rawValue)" }
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decodeRun)
    }

    func claimRuns(now: Date, leaseUntil: Date, limit: Int) async throws -> [AutomationRun] {
        let lock = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        // Runs are claimed oldest first; a run whose runner died (lease expired) is taken again.
        let pending = try await db.raw("""
            UPDATE automation_runs SET status = 'running', lease_until = \(bind: ms(leaseUntil))
            WHERE (workspace_id, id) IN (
                SELECT workspace_id, id FROM automation_runs WHERE status = 'pending' ORDER BY id LIMIT \(bind: Int64(limit))\(unsafeRaw: lock))
            RETURNING *
            """).all().map(decodeRun)
        let stale = try await db.raw("""
            UPDATE automation_runs SET lease_until = \(bind: ms(leaseUntil))
            WHERE (workspace_id, id) IN (
                SELECT workspace_id, id FROM automation_runs WHERE status = 'running' AND lease_until IS NOT NULL AND lease_until < \(bind: ms(now))
                ORDER BY id LIMIT \(bind: Int64(limit))\(unsafeRaw: lock))
            RETURNING *
            """).all().map(decodeRun)
        return (pending + stale).sorted { $0.id < $1.id }
    }

    func hasClaimableRuns(now: Date) async throws -> Bool {
        if try await db.raw("SELECT id FROM automation_runs WHERE status = 'pending' LIMIT 1").first() != nil { return true }
        return try await db.raw("""
            SELECT id FROM automation_runs WHERE status = 'running' AND lease_until IS NOT NULL AND lease_until < \(bind: ms(now)) LIMIT 1
            """).first() != nil
    }

    func updateRun(_ run: AutomationRun) async throws {
        try await db.raw("""
            UPDATE automation_runs SET status = \(bind: run.status.rawValue), actions = \(bind: JSONValue.array(run.actions.map(\.json)).jsonString()),
                error = \(bind: run.error), finished_at = \(bind: ms(run.finishedAt)), lease_until = NULL
            WHERE workspace_id = \(bind: run.workspaceID.rawValue) AND id = \(bind: run.id.rawValue)
            """).run()
    }

    func purgeRuns(before: Date) async throws -> Int {
        try await db.raw("DELETE FROM automation_runs WHERE created_at < \(bind: ms(before)) AND status NOT IN ('pending', 'running') RETURNING id").all().count
    }
}
