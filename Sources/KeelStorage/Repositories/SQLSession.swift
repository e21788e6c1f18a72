import Foundation
import KeelCore
import SQLKit
import Synchronization

/// One connection (inside a transaction for writes) with every repository bound to it.
struct SQLSession: StoreSession {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    var identity: any IdentityRepository { SQLIdentityRepository(db: db) }
    var audit: any AuditRepository { SQLAuditRepository(db: db) }
    var outbox: any OutboxRepository { SQLOutboxRepository(db: db, dialect: dialect) }
    var mail: any MailRepository { SQLMailRepository(db: db, dialect: dialect) }
    var idempotency: any IdempotencyRepository { SQLIdempotencyRepository(db: db, dialect: dialect) }
    var settings: any SettingsRepository { SQLSettingsRepository(db: db, dialect: dialect) }
    var records: any RecordRepository { SQLRecordRepository(db: db, dialect: dialect) }
    var history: any HistoryRepository { SQLHistoryRepository(db: db) }
    var tags: any TagRepository { SQLTagRepository(db: db) }
    var customFields: any CustomFieldRepository { SQLCustomFieldRepository(db: db, dialect: dialect) }
    var pipelines: any PipelineRepository { SQLPipelineRepository(db: db) }
    var lineItems: any LineItemRepository { SQLLineItemRepository(db: db) }
    var activityLinks: any ActivityLinkRepository { SQLActivityLinkRepository(db: db) }
    var webhooks: any WebhookRepository { SQLWebhookRepository(db: db, dialect: dialect) }
    var automations: any AutomationRepository { SQLAutomationRepository(db: db, dialect: dialect) }
    var scheduler: any SchedulerRepository { SQLSchedulerRepository(db: db, dialect: dialect) }
}

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func int(_ column: String) throws -> Int { Int(try decode(column: column, as: Int64.self)) }
    func optionalInt(_ column: String) throws -> Int? { try decode(column: column, as: Int64?.self).map(Int.init) }
    func date(_ column: String) throws -> Date { Timestamp.date(try decode(column: column, as: Int64.self)) }
    func optionalDate(_ column: String) throws -> Date? { try decode(column: column, as: Int64?.self).map(Timestamp.date) }
    func id<K: IDKind>(_ column: String, as: K.Type = K.self) throws -> TypedID<K> { TypedID<K>(trusted: try string(column)) }
    func optionalID<K: IDKind>(_ column: String, as: K.Type = K.self) throws -> TypedID<K>? {
        try optionalString(column).map { TypedID<K>(trusted: $0) }
    }
}

func ms(_ date: Date) -> Int64 { Timestamp.millis(date) }

/// `v1, v2, ...` as bound parameters, for `IN (...)`.
func boundList(_ values: [String]) -> SQLQueryString { values.map { "\(bind: $0)" as SQLQueryString }.joined(separator: ", ") }
func ms(_ date: Date?) -> Int64? { date.map(Timestamp.millis) }

struct CorruptRow: Error, CustomStringConvertible {
    var description: String
}

struct SQLSettingsRepository: SettingsRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func value(_ key: String) async throws -> String? {
        try await db.raw("SELECT value FROM keel_settings WHERE key = \(bind: key)").first()?.string("value")
    }

    func insertIfAbsent(_ key: String, value: String) async throws -> String {
        try await db.raw("INSERT INTO keel_settings (key, value) VALUES (\(bind: key), \(bind: value)) ON CONFLICT (key) DO NOTHING").run()
        return try await self.value(key) ?? value
    }
}

struct SQLOutboxRepository: OutboxRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func claimUndispatched(limit: Int) async throws -> [OutboxEvent] {
        let lock = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await db.raw("""
            SELECT * FROM outbox_events WHERE dispatched_at IS NULL ORDER BY seq LIMIT \(bind: Int64(limit))\(unsafeRaw: lock)
            """).all().map(decode)
    }

    func hasUndispatched() async throws -> Bool {
        try await db.raw("SELECT seq FROM outbox_events WHERE dispatched_at IS NULL LIMIT 1").first() != nil
    }

    func markDispatched(_ ids: [EventID], at: Date) async throws {
        guard !ids.isEmpty else { return }
        let list = boundList(ids.map(\.rawValue))
        try await db.raw("UPDATE outbox_events SET dispatched_at = \(bind: ms(at)) WHERE id IN (" + list + ")").run()
    }

    func purge(before: Date) async throws -> Int {
        try await db.raw("DELETE FROM outbox_events WHERE occurred_at < \(bind: ms(before)) AND dispatched_at IS NOT NULL RETURNING seq").all().count
    }

    func append(_ e: OutboxEvent) async throws {
        var statement = PlainStatement("INSERT INTO outbox_events (id, workspace_id, type, occurred_at, actor_type, actor_id, object_type, object_id, payload, causation_depth) "
            + "VALUES ", reservingValues: 10)
        statement.row([.text(e.id.rawValue), .text(e.workspaceID.rawValue), .text(e.type), .int(Timestamp.millis(e.occurredAt)), .text(e.actor.type.rawValue),
                       .text(e.actor.id), .text(e.objectType), .text(e.objectID), .text(e.payload.jsonString()),
                       .int(Int64(e.causationDepth))])
        try await db.execute(sql: statement) { _ in }
    }

    func count(_ workspaceID: WorkspaceID) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM outbox_events WHERE workspace_id = \(bind: workspaceID.rawValue)").first()?.int("n") ?? 0
    }

    func decode(_ r: any SQLRow) throws -> OutboxEvent {
        OutboxEvent(id: try r.id("id"), workspaceID: try r.id("workspace_id"), type: try r.string("type"), occurredAt: try r.date("occurred_at"),
                    actor: ActorRef(type: ActorRef.Kind(rawValue: try r.string("actor_type")) ?? .system, id: try r.optionalString("actor_id")),
                    objectType: try r.string("object_type"), objectID: try r.string("object_id"),
                    payload: JSONValue.parse(try r.string("payload")) ?? .null, causationDepth: try r.int("causation_depth"))
    }

    func list(_ workspaceID: WorkspaceID, filter: EventFilter, beforeID: String?, limit: Int) async throws -> [OutboxEvent] {
        var q: SQLQueryString = "SELECT * FROM outbox_events WHERE workspace_id = \(bind: workspaceID.rawValue)"
        if !filter.types.isEmpty {
            let parts: [SQLQueryString] = filter.types.map { t in
                t.hasSuffix(".*") ? "type LIKE \(bind: String(t.dropLast(1)) + "%")" : "type = \(bind: t)"
            }
            q += " AND (" + parts.joined(separator: " OR ") + ")"
        }
        if let o = filter.objectID { q += " AND object_id = \(bind: o)" }
        if let a = filter.after { q += " AND occurred_at >= \(bind: ms(a))" }
        if let b = filter.before { q += " AND occurred_at <= \(bind: ms(b))" }
        if let beforeID { q += " AND id < \(bind: beforeID)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decode)
    }

    func get(_ workspaceID: WorkspaceID, id: EventID) async throws -> OutboxEvent? {
        try await db.raw("SELECT * FROM outbox_events WHERE workspace_id = \(bind: workspaceID.rawValue) AND id = \(bind: id.rawValue)").first().map(decode)
    }
}

struct SQLMailRepository: MailRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func claimPending(limit: Int, at: Date) async throws -> [MailMessage] {
        let lock = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await db.raw("""
            UPDATE mail_outbox SET sent_at = \(bind: ms(at)), attempts = attempts + 1
            WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at IS NULL ORDER BY id LIMIT \(bind: Int64(limit))\(unsafeRaw: lock))
            RETURNING *
            """).all().map(decode).sorted { $0.id < $1.id }
    }

    func enqueue(_ m: MailMessage) async throws {
        try await db.raw("""
            INSERT INTO mail_outbox (id, workspace_id, recipient, subject, body, created_at)
            VALUES (\(bind: m.id.rawValue), \(bind: m.workspaceID?.rawValue), \(bind: m.to), \(bind: m.subject), \(bind: m.body), \(bind: ms(m.createdAt)))
            """).run()
    }

    func decode(_ row: any SQLRow) throws -> MailMessage {
        MailMessage(id: try row.id("id"), workspaceID: try row.optionalID("workspace_id"), to: try row.string("recipient"),
                    subject: try row.string("subject"), body: try row.string("body"), createdAt: try row.date("created_at"),
                    sentAt: try row.optionalDate("sent_at"))
    }

    func pending(limit: Int) async throws -> [MailMessage] {
        try await db.raw("SELECT * FROM mail_outbox WHERE sent_at IS NULL ORDER BY id LIMIT \(bind: Int64(limit))").all().map(decode)
    }

    func markSent(_ id: MailID, at: Date) async throws {
        try await db.raw("UPDATE mail_outbox SET sent_at = \(bind: ms(at)), attempts = attempts + 1 WHERE id = \(bind: id.rawValue)").run()
    }

    func recent(to: String, limit: Int) async throws -> [MailMessage] {
        try await db.raw("SELECT * FROM mail_outbox WHERE recipient = \(bind: to) ORDER BY id DESC LIMIT \(bind: Int64(limit))").all().map(decode)
    }
}

struct SQLIdempotencyRepository: IdempotencyRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func claim(_ r: IdempotencyRecord) async throws -> IdempotencyRecord? {
        // Expired rows are replaced, so a key is reusable after 24 h even before the purge job runs.
        var expired = PlainStatement("DELETE FROM idempotency_keys WHERE scope = ", reservingValues: 3)
        expired.bind(.text(r.scope))
        expired.append(" AND key = ")
        expired.bind(.text(r.key))
        expired.append(" AND expires_at <= ")
        expired.bind(.int(Timestamp.millis(r.createdAt)))
        try await db.execute(sql: expired) { _ in }
        var insert = PlainStatement("INSERT INTO idempotency_keys (scope, key, fingerprint, state, created_at, expires_at) VALUES ", reservingValues: 6)
        insert.row([.text(r.scope), .text(r.key), .text(r.fingerprint), .text(r.state.rawValue), .int(Timestamp.millis(r.createdAt)), .int(Timestamp.millis(r.expiresAt))])
        insert.append(" ON CONFLICT (scope, key) DO NOTHING RETURNING scope")
        let inserted = Mutex(false)
        try await db.execute(sql: insert) { _ in inserted.withLock { $0 = true } }
        if inserted.withLock({ $0 }) { return nil }
        guard let row = try await db.raw("SELECT * FROM idempotency_keys WHERE scope = \(bind: r.scope) AND key = \(bind: r.key)").first() else {
            return nil
        }
        let headersText = try row.optionalString("headers") ?? "{}"
        let headers = (try? JSONDecoder().decode([String: String].self, from: Data(headersText.utf8))) ?? [:]
        return IdempotencyRecord(scope: try row.string("scope"), key: try row.string("key"), fingerprint: try row.string("fingerprint"),
                                 state: IdempotencyRecord.State(rawValue: try row.string("state")) ?? .inFlight,
                                 status: try row.optionalInt("status"), headers: headers,
                                 body: try row.optionalString("body").map { Data($0.utf8) },
                                 createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"))
    }

    func complete(scope: String, key: String, status: Int, headers: [String: String], body: Data) async throws {
        let headersJSON = String(decoding: FastJSON.encode(.object(headers.mapValues(JSONValue.string))), as: UTF8.self)
        var statement = PlainStatement("UPDATE idempotency_keys SET state = 'done', status = ", reservingValues: 5)
        statement.bind(.int(Int64(status)))
        statement.append(", headers = ")
        statement.bind(.text(headersJSON))
        statement.append(", body = ")
        statement.bind(.text(String(decoding: body, as: UTF8.self)))
        statement.append(" WHERE scope = ")
        statement.bind(.text(scope))
        statement.append(" AND key = ")
        statement.bind(.text(key))
        try await db.execute(sql: statement) { _ in }
    }

    func release(scope: String, key: String) async throws {
        try await db.raw("DELETE FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key) AND state = 'in_flight'").run()
    }

    func purgeExpired(before: Date) async throws -> Int {
        let rows = try await db.raw("DELETE FROM idempotency_keys WHERE expires_at <= \(bind: ms(before)) RETURNING key").all()
        return rows.count
    }
}
