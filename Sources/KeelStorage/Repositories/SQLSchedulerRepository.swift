import Foundation
import KeelCore
import SQLKit

struct SQLSchedulerRepository: SchedulerRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    /// Record tables whose soft-deleted rows are purged after 30 days, with their object type.
    static let recordTables: [(table: String, type: String)] = [
        ("contacts", "contact"), ("companies", "company"), ("notes", "note"), ("deals", "deal"), ("products", "product"),
        ("leads", "lead"), ("tasks", "task"), ("activities", "activity"),
    ]
    /// Every table keyed by workspace, children first (members reference workspaces).
    static let workspaceTables = [
        "webhook_attempts", "webhook_deliveries", "webhook_endpoints", "automation_runs", "automations", "scheduler_marks",
        "activity_links", "activities", "tasks", "leads", "line_items", "deal_stage_history", "deal_contacts", "deals", "stage_totals", "products", "stages",
        "pipelines", "field_history", "record_tags", "custom_field_definitions", "notes", "companies", "contacts", "outbox_events", "audit_logs",
        "mail_outbox", "refresh_tokens", "invitations", "api_keys", "members",
    ]

    func liveWorkspaces() async throws -> [Workspace] {
        try await db.raw("SELECT * FROM workspaces WHERE deleted_at IS NULL ORDER BY id").all().map { try SQLIdentityRepository(db: db).decodeWorkspace($0) }
    }

    func overdueTasks(_ ws: WorkspaceID, now: Date, limit: Int) async throws -> [(id: String, episode: String)] {
        try await db.raw("""
            SELECT t.id, t.due_at FROM tasks t
            WHERE t.workspace_id = \(bind: ws.rawValue) AND t.status IN ('pending', 'in_progress') AND t.deleted_at IS NULL
              AND t.due_at < \(bind: ms(now))
              AND NOT EXISTS (SELECT 1 FROM scheduler_marks m WHERE m.workspace_id = t.workspace_id AND m.kind = 'task.overdue'
                              AND m.object_id = t.id AND m.episode = CAST(t.due_at AS TEXT))
            ORDER BY t.due_at, t.id LIMIT \(bind: Int64(limit))
            """).all().map { (try $0.string("id"), String(try $0.int("due_at"))) }
    }

    func staleDeals(_ ws: WorkspaceID, now: Date, defaultRotDays: Int, limit: Int) async throws -> [(id: String, episode: String)] {
        let reference = "CASE WHEN COALESCE(d.last_activity_at, 0) > COALESCE(d.stage_entered_at, 0) THEN d.last_activity_at ELSE d.stage_entered_at END"
        return try await db.raw("""
            SELECT d.id, \(unsafeRaw: reference) AS since FROM deals d
            JOIN stages s ON s.workspace_id = d.workspace_id AND s.id = d.stage_id
            WHERE d.workspace_id = \(bind: ws.rawValue) AND d.status = 'open' AND d.deleted_at IS NULL
              AND \(unsafeRaw: reference) < \(bind: ms(now)) - COALESCE(s.rot_days, \(bind: Int64(defaultRotDays))) * 86400000
              AND NOT EXISTS (SELECT 1 FROM scheduler_marks m WHERE m.workspace_id = d.workspace_id AND m.kind = 'deal.stale'
                              AND m.object_id = d.id AND m.episode = CAST(\(unsafeRaw: reference) AS TEXT))
            ORDER BY d.id LIMIT \(bind: Int64(limit))
            """).all().map { (try $0.string("id"), String(try $0.int("since"))) }
    }

    func mark(_ ws: WorkspaceID, kind: String, objectID: String, episode: String, at: Date) async throws -> Bool {
        try await db.raw("""
            INSERT INTO scheduler_marks (workspace_id, kind, object_id, episode, created_at)
            VALUES (\(bind: ws.rawValue), \(bind: kind), \(bind: objectID), \(bind: episode), \(bind: ms(at)))
            ON CONFLICT (workspace_id, kind, object_id, episode) DO NOTHING RETURNING object_id
            """).first() != nil
    }

    func purgeSoftDeleted(before: Date) async throws -> Int {
        var purged = 0
        let cutoff = ms(before)
        for (table, type) in SQLSchedulerRepository.recordTables {
            let doomed: SQLQueryString = "SELECT workspace_id, id FROM \(ident: table) WHERE deleted_at IS NOT NULL AND deleted_at < \(bind: cutoff)"
            try await db.raw("DELETE FROM record_tags WHERE object_type = \(bind: type) AND (workspace_id, object_id) IN (" + doomed + ")").run()
            if table == "deals" {
                try await db.raw("DELETE FROM deal_contacts WHERE (workspace_id, deal_id) IN (" + doomed + ")").run()
                try await db.raw("DELETE FROM line_items WHERE (workspace_id, deal_id) IN (" + doomed + ")").run()
            }
            if table == "contacts" { try await db.raw("DELETE FROM deal_contacts WHERE (workspace_id, contact_id) IN (" + doomed + ")").run() }
            if table == "activities" { try await db.raw("DELETE FROM activity_links WHERE (workspace_id, activity_id) IN (" + doomed + ")").run() }
            purged += try await db.raw("DELETE FROM \(ident: table) WHERE deleted_at IS NOT NULL AND deleted_at < \(bind: cutoff) RETURNING id").all().count
        }
        return purged
    }

    func purgeWorkspaces(before: Date) async throws -> Int {
        let doomed = try await db.raw("""
            SELECT id FROM workspaces WHERE deleted_at IS NOT NULL AND purge_after IS NOT NULL AND purge_after < \(bind: ms(before)) LIMIT 10
            """).all().map { try $0.string("id") }
        for ws in doomed {
            for table in SQLSchedulerRepository.workspaceTables {
                try await db.raw("DELETE FROM \(ident: table) WHERE workspace_id = \(bind: ws)").run()
            }
            try await db.raw("DELETE FROM workspaces WHERE id = \(bind: ws)").run()
        }
        return doomed.count
    }
}
