import Foundation
import KeelCore
import SQLKit

struct SQLHistoryRepository: HistoryRepository {
    let db: any SQLDatabase

    func append(_ entries: [HistoryEntry]) async throws {
        guard !entries.isEmpty else { return }
        for chunk in stride(from: 0, to: entries.count, by: 100) {
            let rows = entries[chunk..<min(chunk + 100, entries.count)]
            var statement = PlainStatement("INSERT INTO field_history (workspace_id, id, object_type, object_id, field, old_value, new_value, actor_type, actor_id, source, at) "
            + "VALUES ", reservingValues: rows.count * 11)
            for (i, e) in rows.enumerated() {
                if i > 0 { statement.append(", ") }
                statement.row([.text(e.workspaceID.rawValue), .text(e.id), .text(e.objectType), .text(e.objectID), .text(e.field),
                               .text(e.oldValue.jsonString()), .text(e.newValue.jsonString()), .text(e.actor.type.rawValue),
                               .text(e.actor.id), .text(e.source.rawValue), .int(Timestamp.millis(e.at))])
            }
            try await db.execute(sql: statement) { _ in }
        }
    }

    func list(_ workspaceID: WorkspaceID, objectType: String, objectID: String, before: (Date, String)?, limit: Int) async throws -> [HistoryEntry] {
        var q: SQLQueryString = """
            SELECT * FROM field_history WHERE workspace_id = \(bind: workspaceID.rawValue) AND object_type = \(bind: objectType)
            AND object_id = \(bind: objectID)
            """
        if let (at, id) = before {
            let ms = Timestamp.millis(at)
            q += " AND (at < \(bind: ms) OR (at = \(bind: ms) AND id < \(bind: id)))"
        }
        q += " ORDER BY at DESC, id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map { r in
            HistoryEntry(id: try r.string("id"), workspaceID: workspaceID, objectType: objectType, objectID: objectID, field: try r.string("field"),
                         oldValue: try r.optionalString("old_value").flatMap(JSONValue.parse) ?? .null,
                         newValue: try r.optionalString("new_value").flatMap(JSONValue.parse) ?? .null,
                         actor: ActorRef(type: ActorRef.Kind(rawValue: try r.string("actor_type")) ?? .system, id: try r.optionalString("actor_id")),
                         source: HistoryEntry.Source(rawValue: try r.string("source")) ?? .api, at: try r.date("at"))
        }
    }

    func moveHistory(_ workspaceID: WorkspaceID, objectType: String, from: String, to: String) async throws {
        try await db.raw("""
            UPDATE field_history SET object_id = \(bind: to)
            WHERE workspace_id = \(bind: workspaceID.rawValue) AND object_type = \(bind: objectType) AND object_id = \(bind: from)
            """).run()
    }
}

struct SQLTagRepository: TagRepository {
    let db: any SQLDatabase

    func counts(_ workspaceID: WorkspaceID, prefix: String?, viewer: Viewer, objectTypes: [(type: String, table: String, hasVisibility: Bool)], limit: Int) async throws -> [(String, Int)] {
        // Count only live records the viewer may open, so private records never leak through tag counts.
        let parts: [SQLQueryString] = objectTypes.map { o in
            var q: SQLQueryString = """
                SELECT rt.tag_lower, rt.tag FROM record_tags rt JOIN \(unsafeRaw: o.table) r ON r.workspace_id = rt.workspace_id AND r.id = rt.object_id
                WHERE rt.workspace_id = \(bind: workspaceID.rawValue) AND rt.object_type = \(bind: o.type) AND r.deleted_at IS NULL
                """
            if !viewer.seesPrivate && o.hasVisibility { q += " AND (r.visibility = 'workspace' OR r.owner_id = \(bind: viewer.userID.rawValue))" }
            if let prefix, !prefix.isEmpty {
                q += " AND rt.tag_lower LIKE \(bind: SQLFilterCompiler.likeEscape(prefix) + "%") ESCAPE '\\'"
            }
            return q
        }
        let sql: SQLQueryString = "SELECT tag_lower, MIN(tag) AS tag, COUNT(*) AS n FROM (" + parts.joined(separator: " UNION ALL ")
            + ") x GROUP BY tag_lower ORDER BY n DESC, tag_lower LIMIT \(bind: Int64(limit))"
        return try await db.raw(sql).all().map { (try $0.string("tag"), try $0.int("n")) }
    }
}

struct SQLCustomFieldRepository: CustomFieldRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func decode(_ r: any SQLRow) throws -> CustomFieldDefinition {
        let options: [String]
        if case .array(let items)? = JSONValue.parse(try r.string("options")) { options = items.compactMap(\.stringValue) } else { options = [] }
        return CustomFieldDefinition(id: try r.id("id"), workspaceID: try r.id("workspace_id"), objectType: try r.string("object_type"),
                                     key: try r.string("key"), label: try r.string("label"),
                                     type: CustomFieldType(rawValue: try r.string("type")) ?? .text, options: options,
                                     required: try r.int("required") != 0, createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
                                     createdBy: try r.optionalID("created_by"), version: try r.int("version"), deletedAt: try r.optionalDate("deleted_at"))
    }

    func insert(_ d: CustomFieldDefinition) async throws {
        try await db.raw("""
            INSERT INTO custom_field_definitions (workspace_id, id, object_type, key, label, type, options, required, created_at, updated_at, created_by, version, deleted_at)
            VALUES (\(bind: d.workspaceID.rawValue), \(bind: d.id.rawValue), \(bind: d.objectType), \(bind: d.key), \(bind: d.label), \(bind: d.type.rawValue),
                    \(bind: JSONValue.array(d.options.map(JSONValue.string)).jsonString()), \(bind: Int64(d.required ? 1 : 0)), \(bind: ms(d.createdAt)),
                    \(bind: ms(d.updatedAt)), \(bind: d.createdBy?.rawValue), \(bind: Int64(d.version)), \(bind: ms(d.deletedAt)))
            """).run()
    }

    func update(_ d: CustomFieldDefinition) async throws {
        try await db.raw("""
            UPDATE custom_field_definitions SET label = \(bind: d.label), options = \(bind: JSONValue.array(d.options.map(JSONValue.string)).jsonString()),
                required = \(bind: Int64(d.required ? 1 : 0)), updated_at = \(bind: ms(d.updatedAt)), version = \(bind: Int64(d.version)),
                deleted_at = \(bind: ms(d.deletedAt))
            WHERE workspace_id = \(bind: d.workspaceID.rawValue) AND id = \(bind: d.id.rawValue)
            """).run()
    }

    func get(_ workspaceID: WorkspaceID, id: CustomFieldID) async throws -> CustomFieldDefinition? {
        try await db.raw("SELECT * FROM custom_field_definitions WHERE workspace_id = \(bind: workspaceID.rawValue) AND id = \(bind: id.rawValue)")
            .first().map(decode)
    }

    func list(_ workspaceID: WorkspaceID, objectType: String?) async throws -> [CustomFieldDefinition] {
        var q: SQLQueryString = "SELECT * FROM custom_field_definitions WHERE workspace_id = \(bind: workspaceID.rawValue) AND deleted_at IS NULL"
        if let objectType { q += " AND object_type = \(bind: objectType)" }
        q += " ORDER BY object_type, key"
        return try await db.raw(q).all().map(decode)
    }

    func removeValues(_ workspaceID: WorkspaceID, table: String, key: String) async throws -> Int {
        let path = "$.\"\(key)\""
        let sql: SQLQueryString = dialect == .sqlite
            ? "UPDATE \(unsafeRaw: table) SET custom_fields = json_remove(custom_fields, \(bind: path)) WHERE workspace_id = \(bind: workspaceID.rawValue) AND json_extract(custom_fields, \(bind: path)) IS NOT NULL RETURNING id"
            : "UPDATE \(unsafeRaw: table) SET custom_fields = (custom_fields::jsonb - \(bind: key))::text WHERE workspace_id = \(bind: workspaceID.rawValue) AND custom_fields::jsonb ? \(bind: key) RETURNING id"
        return try await db.raw(sql).all().count
    }
}
