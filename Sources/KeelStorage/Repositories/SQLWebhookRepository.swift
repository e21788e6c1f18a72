import Foundation
import KeelCore
import SQLKit

struct SQLWebhookRepository: WebhookRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    func decode(_ r: any SQLRow) throws -> WebhookEndpoint {
        let events = (JSONValue.parse(try r.string("events")).flatMap { v -> [String]? in
            if case .array(let items) = v { return items.compactMap(\.stringValue) }
            return nil
        }) ?? []
        return WebhookEndpoint(id: try r.id("id"), workspaceID: try r.id("workspace_id"), url: try r.string("url"),
                               description: try r.optionalString("description"), events: events, secret: try r.string("secret"),
                               previousSecret: try r.optionalString("previous_secret"), previousSecretUntil: try r.optionalDate("previous_secret_until"),
                               status: WebhookEndpoint.Status(rawValue: try r.string("status")) ?? .disabled,
                               disabledReason: try r.optionalString("disabled_reason"), failingSince: try r.optionalDate("failing_since"),
                               createdBy: try r.optionalID("created_by"), createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
                               version: try r.int("version"))
    }

    func eventsJSON(_ e: WebhookEndpoint) -> String { JSONValue.array(e.events.map(JSONValue.string)).jsonString() }

    func insert(_ e: WebhookEndpoint) async throws {
        try await db.raw("""
            INSERT INTO webhook_endpoints (workspace_id, id, url, description, events, secret, previous_secret, previous_secret_until, status,
                disabled_reason, failing_since, created_by, created_at, updated_at, version)
            VALUES (\(bind: e.workspaceID.rawValue), \(bind: e.id.rawValue), \(bind: e.url), \(bind: e.description), \(bind: eventsJSON(e)),
                \(bind: e.secret), \(bind: e.previousSecret), \(bind: ms(e.previousSecretUntil)), \(bind: e.status.rawValue), \(bind: e.disabledReason),
                \(bind: ms(e.failingSince)), \(bind: e.createdBy?.rawValue), \(bind: ms(e.createdAt)), \(bind: ms(e.updatedAt)), \(bind: Int64(e.version)))
            """).run()
    }

    func get(_ ws: WorkspaceID, id: WebhookID) async throws -> WebhookEndpoint? {
        try await db.raw("SELECT * FROM webhook_endpoints WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)").first().map(decode)
    }

    func list(_ ws: WorkspaceID, before: String?, limit: Int) async throws -> [WebhookEndpoint] {
        var q: SQLQueryString = "SELECT * FROM webhook_endpoints WHERE workspace_id = \(bind: ws.rawValue)"
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decode)
    }

    func update(_ e: WebhookEndpoint) async throws {
        try await db.raw("""
            UPDATE webhook_endpoints SET url = \(bind: e.url), description = \(bind: e.description), events = \(bind: eventsJSON(e)),
                secret = \(bind: e.secret), previous_secret = \(bind: e.previousSecret), previous_secret_until = \(bind: ms(e.previousSecretUntil)),
                status = \(bind: e.status.rawValue), disabled_reason = \(bind: e.disabledReason), failing_since = \(bind: ms(e.failingSince)),
                updated_at = \(bind: ms(e.updatedAt)), version = \(bind: Int64(e.version))
            WHERE workspace_id = \(bind: e.workspaceID.rawValue) AND id = \(bind: e.id.rawValue)
            """).run()
    }

    func delete(_ ws: WorkspaceID, id: WebhookID) async throws {
        try await db.raw("DELETE FROM webhook_endpoints WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)").run()
    }

    func receiving(_ workspaceIDs: [WorkspaceID]) async throws -> [WebhookEndpoint] {
        guard !workspaceIDs.isEmpty else { return [] }
        let list = boundList(workspaceIDs.map(\.rawValue))
        return try await db.raw("SELECT * FROM webhook_endpoints WHERE workspace_id IN (" + list + ") AND status IN ('active', 'paused')")
            .all().map(decode)
    }

    func decodeDelivery(_ r: any SQLRow) throws -> WebhookDelivery {
        WebhookDelivery(id: try r.id("id"), workspaceID: try r.id("workspace_id"), endpointID: try r.id("endpoint_id"), eventID: try r.string("event_id"),
                        eventType: try r.string("event_type"), body: try r.string("body"),
                        status: WebhookDelivery.Status(rawValue: try r.string("status")) ?? .failed, attempts: try r.int("attempts"),
                        nextAttemptAt: try r.optionalDate("next_attempt_at"), lastStatusCode: try r.optionalInt("last_status_code"),
                        lastError: try r.optionalString("last_error"), createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"))
    }

    func insertDelivery(_ d: WebhookDelivery) async throws {
        try await db.raw("""
            INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at,
                last_status_code, last_error, created_at, updated_at)
            VALUES (\(bind: d.workspaceID.rawValue), \(bind: d.id.rawValue), \(bind: d.endpointID.rawValue), \(bind: d.eventID), \(bind: d.eventType),
                \(bind: d.body), \(bind: d.status.rawValue), \(bind: Int64(d.attempts)), \(bind: ms(d.nextAttemptAt)),
                \(bind: d.lastStatusCode.map(Int64.init)), \(bind: d.lastError), \(bind: ms(d.createdAt)), \(bind: ms(d.updatedAt)))
            """).run()
    }

    func delivery(_ ws: WorkspaceID, id: DeliveryID) async throws -> WebhookDelivery? {
        try await db.raw("SELECT * FROM webhook_deliveries WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id.rawValue)").first()
            .map(decodeDelivery)
    }

    func deliveries(_ ws: WorkspaceID, endpointID: WebhookID, status: WebhookDelivery.Status?, eventID: String?, before: String?,
                    limit: Int) async throws -> [WebhookDelivery] {
        var q: SQLQueryString = "SELECT * FROM webhook_deliveries WHERE workspace_id = \(bind: ws.rawValue) AND endpoint_id = \(bind: endpointID.rawValue)"
        if let status { q += " AND status = \(bind: status.rawValue)" }
        if let eventID { q += " AND event_id = \(bind: eventID)" }
        if let before { q += " AND id < \(bind: before)" }
        q += " ORDER BY id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map(decodeDelivery)
    }

    func attempts(_ ws: WorkspaceID, deliveryIDs: [DeliveryID]) async throws -> [WebhookAttempt] {
        guard !deliveryIDs.isEmpty else { return [] }
        let list = boundList(deliveryIDs.map(\.rawValue))
        return try await db.raw("SELECT * FROM webhook_attempts WHERE workspace_id = \(bind: ws.rawValue) AND delivery_id IN (" + list + ")")
            .all().map { r in
                WebhookAttempt(workspaceID: try r.id("workspace_id"), deliveryID: try r.id("delivery_id"), attempt: try r.int("attempt"),
                               endpointID: try r.id("endpoint_id"), url: try r.string("url"), startedAt: try r.date("started_at"),
                               durationMillis: try r.int("duration_ms"), statusCode: try r.optionalInt("status_code"),
                               responseSnippet: try r.optionalString("response_snippet"), error: try r.optionalString("error"),
                               succeeded: try r.int("succeeded") != 0)
            }
    }

    func dueCandidates(now: Date, excluding: Set<WebhookID>, limit: Int) async throws -> [DueDelivery] {
        var q: SQLQueryString = """
            SELECT d.workspace_id, d.id, d.endpoint_id FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.workspace_id = d.workspace_id AND e.id = d.endpoint_id AND e.status = 'active'
            WHERE d.status = 'pending' AND d.next_attempt_at <= \(bind: ms(now))
              AND (d.lease_until IS NULL OR d.lease_until < \(bind: ms(now)))
            """
        if !excluding.isEmpty {
            q += " AND d.endpoint_id NOT IN ("
            for (i, id) in excluding.sorted(by: { $0.rawValue < $1.rawValue }).enumerated() { q += i == 0 ? "\(bind: id.rawValue)" : ", \(bind: id.rawValue)" }
            q += ")"
        }
        q += " ORDER BY d.next_attempt_at, d.id LIMIT \(bind: Int64(limit))"
        if dialect == .postgres { q += " FOR UPDATE OF d SKIP LOCKED" }
        return try await db.raw(q).all().map { r in
            DueDelivery(workspaceID: try r.id("workspace_id"), id: try r.id("id"), endpointID: try r.id("endpoint_id"))
        }
    }

    func lease(_ deliveries: [DueDelivery], until leaseUntil: Date) async throws -> [WebhookDelivery] {
        var leased: [WebhookDelivery] = []
        for d in deliveries {
            let rows = try await db.raw("""
                UPDATE webhook_deliveries SET lease_until = \(bind: ms(leaseUntil))
                WHERE workspace_id = \(bind: d.workspaceID.rawValue) AND id = \(bind: d.id.rawValue) RETURNING *
                """).all()
            leased += try rows.map(decodeDelivery)
        }
        return leased
    }

    func hasDue(now: Date) async throws -> Bool {
        try await db.raw("""
            SELECT d.id FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.workspace_id = d.workspace_id AND e.id = d.endpoint_id AND e.status = 'active'
            WHERE d.status = 'pending' AND d.next_attempt_at <= \(bind: ms(now)) AND (d.lease_until IS NULL OR d.lease_until < \(bind: ms(now))) LIMIT 1
            """).first() != nil
    }

    func appendAttempt(_ a: WebhookAttempt) async throws {
        try await db.raw("""
            INSERT INTO webhook_attempts (workspace_id, delivery_id, attempt, endpoint_id, url, started_at, duration_ms, status_code,
                response_snippet, error, succeeded)
            VALUES (\(bind: a.workspaceID.rawValue), \(bind: a.deliveryID.rawValue), \(bind: Int64(a.attempt)), \(bind: a.endpointID.rawValue),
                \(bind: a.url), \(bind: ms(a.startedAt)), \(bind: Int64(a.durationMillis)), \(bind: a.statusCode.map(Int64.init)),
                \(bind: a.responseSnippet), \(bind: a.error), \(bind: Int64(a.succeeded ? 1 : 0)))
            ON CONFLICT (workspace_id, delivery_id, attempt) DO NOTHING
            """).run()
    }

    func updateDelivery(_ d: WebhookDelivery) async throws {
        try await db.raw("""
            UPDATE webhook_deliveries SET status = \(bind: d.status.rawValue), attempts = \(bind: Int64(d.attempts)),
                next_attempt_at = \(bind: ms(d.nextAttemptAt)), lease_until = NULL, last_status_code = \(bind: d.lastStatusCode.map(Int64.init)),
                last_error = \(bind: d.lastError), updated_at = \(bind: ms(d.updatedAt))
            WHERE workspace_id = \(bind: d.workspaceID.rawValue) AND id = \(bind: d.id.rawValue)
            """).run()
    }

    func failPending(_ ws: WorkspaceID, endpointID: WebhookID, reason: String, at: Date) async throws {
        try await db.raw("""
            UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL, last_error = \(bind: reason),
                updated_at = \(bind: ms(at))
            WHERE workspace_id = \(bind: ws.rawValue) AND endpoint_id = \(bind: endpointID.rawValue) AND status = 'pending'
            """).run()
    }

    func purgeDeliveries(before: Date) async throws -> Int {
        try await db.raw("""
            DELETE FROM webhook_attempts WHERE (workspace_id, delivery_id) IN (
                SELECT workspace_id, id FROM webhook_deliveries WHERE created_at < \(bind: ms(before)) AND status <> 'pending')
            """).run()
        return try await db.raw("DELETE FROM webhook_deliveries WHERE created_at < \(bind: ms(before)) AND status <> 'pending' RETURNING id").all().count
    }
}
