import Foundation
import KeelCore
import SQLKit

struct SQLActivityLinkRepository: ActivityLinkRepository {
    let db: any SQLDatabase

    func set(_ ws: WorkspaceID, activityID: String, links: [(String, String)]) async throws {
        try await db.raw("DELETE FROM activity_links WHERE workspace_id = \(bind: ws.rawValue) AND activity_id = \(bind: activityID)").run()
        guard !links.isEmpty else { return }
        let occurred = try await db.raw("SELECT occurred_at FROM activities WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: activityID)")
            .first()?.decode(column: "occurred_at", as: Int64.self) ?? 0
        let rows = links.map { "(\(bind: ws.rawValue), \(bind: activityID), \(bind: $0.0), \(bind: $0.1), \(bind: occurred))" as SQLQueryString }
            .joined(separator: ", ")
        try await db.raw("INSERT INTO activity_links (workspace_id, activity_id, related_type, related_id, occurred_at) VALUES " + rows).run()
    }

    func insertMany(_ ws: WorkspaceID, links: [(String, String, String, Date)]) async throws {
        for start in stride(from: 0, to: links.count, by: 1000) {
            let rows = links[start..<min(start + 1000, links.count)].map { l -> SQLQueryString in
                "(\(bind: ws.rawValue), \(bind: l.0), \(bind: l.1), \(bind: l.2), \(bind: Timestamp.millis(l.3)))"
            }.joined(separator: ", ")
            try await db.raw("INSERT INTO activity_links (workspace_id, activity_id, related_type, related_id, occurred_at) VALUES " + rows + " ON CONFLICT DO NOTHING").run()
        }
    }

    func refreshLastActivity(_ ws: WorkspaceID, table: String, relatedType: String) async throws {
        try await db.raw("""
            UPDATE \(unsafeRaw: table) SET last_activity_at = (
                SELECT MAX(l.occurred_at) FROM activity_links l
                WHERE l.workspace_id = \(unsafeRaw: table).workspace_id AND l.related_id = \(unsafeRaw: table).id AND l.related_type = \(bind: relatedType))
            WHERE workspace_id = \(bind: ws.rawValue)
            """).run()
    }

    func touchLastActivity(_ ws: WorkspaceID, table: String, id: String, at: Date) async throws {
        let ms = Timestamp.millis(at)
        try await db.raw("""
            UPDATE \(unsafeRaw: table) SET last_activity_at = \(bind: ms)
            WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id) AND (last_activity_at IS NULL OR last_activity_at < \(bind: ms))
            """).run()
    }

    func activityIDs(_ ws: WorkspaceID, relatedType: String, relatedID: String, before: (Date, String)?, limit: Int) async throws -> [String] {
        var q: SQLQueryString = """
            SELECT activity_id FROM activity_links WHERE workspace_id = \(bind: ws.rawValue) AND related_id = \(bind: relatedID)
            AND related_type = \(bind: relatedType)
            """
        if let (at, id) = before {
            let ms = Timestamp.millis(at)
            q += " AND (occurred_at < \(bind: ms) OR (occurred_at = \(bind: ms) AND activity_id < \(bind: id)))"
        }
        q += " ORDER BY occurred_at DESC, activity_id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map { try $0.decode(column: "activity_id", as: String.self) }
    }

    func relink(_ ws: WorkspaceID, relatedType: String, from: String, to: String) async throws {
        try await db.raw("""
            UPDATE activity_links SET related_id = \(bind: to)
            WHERE workspace_id = \(bind: ws.rawValue) AND related_type = \(bind: relatedType) AND related_id = \(bind: from)
            AND NOT EXISTS (SELECT 1 FROM activity_links x WHERE x.workspace_id = activity_links.workspace_id
                            AND x.activity_id = activity_links.activity_id AND x.related_type = activity_links.related_type AND x.related_id = \(bind: to))
            """).run()
        try await db.raw("""
            UPDATE activities SET related_to = REPLACE(related_to, \(bind: "\"" + from + "\""), \(bind: "\"" + to + "\""))
            WHERE workspace_id = \(bind: ws.rawValue) AND related_to LIKE \(bind: "%" + from + "%")
            """).run()
    }
}
