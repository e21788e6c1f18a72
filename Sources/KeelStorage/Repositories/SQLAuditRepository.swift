import Foundation
import KeelCore
import SQLKit

struct SQLAuditRepository: AuditRepository {
    let db: any SQLDatabase

    func append(_ e: AuditEntry) async throws {
        var statement = PlainStatement("INSERT INTO audit_logs (id, workspace_id, actor_type, actor_id, action, object_type, object_id, changes, request_id, ip, created_at) "
            + "VALUES ", reservingValues: 11)
        statement.row([.text(e.id.rawValue), .text(e.workspaceID?.rawValue), .text(e.actor.type.rawValue), .text(e.actor.id),
                       .text(e.action), .text(e.objectType), .text(e.objectID), .text(e.changes?.jsonString()),
                       .text(e.requestID), .text(e.ip), .int(Timestamp.millis(e.createdAt))])
        try await db.execute(sql: statement) { _ in }
    }

    func decode(_ r: any SQLRow) throws -> AuditEntry {
        AuditEntry(id: try r.id("id"), workspaceID: try r.optionalID("workspace_id"),
                   actor: ActorRef(type: ActorRef.Kind(rawValue: try r.string("actor_type")) ?? .system, id: try r.optionalString("actor_id")),
                   action: try r.string("action"), objectType: try r.optionalString("object_type"), objectID: try r.optionalString("object_id"),
                   changes: try r.optionalString("changes").flatMap(JSONValue.parse), requestID: try r.optionalString("request_id"),
                   ip: try r.optionalString("ip"), createdAt: try r.date("created_at"))
    }

    func list(_ workspaceID: WorkspaceID, filter: AuditFilter, before: String?, limit: Int) async throws -> [AuditEntry] {
        var q: SQLQueryString = "SELECT * FROM audit_logs WHERE workspace_id = \(bind: workspaceID.rawValue)"
        if let v = filter.objectType { q += " AND object_type = \(bind: v)" }
        if let v = filter.objectID { q += " AND object_id = \(bind: v)" }
        if let v = filter.actorID { q += " AND actor_id = \(bind: v)" }
        if let v = filter.action { q += " AND action = \(bind: v)" }
        if let v = filter.from { q += " AND created_at >= \(bind: ms(v))" }
        if let v = filter.to { q += " AND created_at <= \(bind: ms(v))" }
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decode)
    }

    func entry(_ workspaceID: WorkspaceID, id: AuditID) async throws -> AuditEntry? {
        try await db.raw("SELECT * FROM audit_logs WHERE workspace_id = \(bind: workspaceID.rawValue) AND id = \(bind: id.rawValue)")
            .first().map(decode)
    }
}
