import Foundation

public struct WebhookPolicy: Sendable {
    /// `KEEL_WEBHOOKS_ALLOW_PRIVATE`: receivers on private, loopback or link-local addresses.
    public var allowInternal: Bool
    public var timeout: TimeInterval
    public var retries: RetrySchedule
    /// An endpoint whose every attempt failed for this long is disabled (scaled with the retry schedule).
    public var disableAfter: TimeInterval { 3 * 86_400 * retries.scale }

    public init(allowInternal: Bool = false, timeout: TimeInterval = 10, retries: RetrySchedule = RetrySchedule()) {
        self.allowInternal = allowInternal
        self.timeout = timeout
        self.retries = retries
    }
}

public struct CreatedWebhook: Sendable {
    public var endpoint: WebhookEndpoint
    public var secret: String
}

/// Webhook endpoints as integrators manage them: create (secret shown once), change, pause, rotate, test, inspect and redeliver.
public struct WebhookService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let cursors: CursorCodec
    let resolver: any HostResolver
    let policy: WebhookPolicy
    static let read = Scope("webhooks", .read)
    static let write = Scope("webhooks", .write)
    public static let maxEvents = 100

    public init(store: any Store, clock: any KeelClock, cursors: CursorCodec, resolver: any HostResolver, policy: WebhookPolicy) {
        self.store = store
        self.clock = clock
        self.cursors = cursors
        self.resolver = resolver
        self.policy = policy
    }

    public static func makeSecret() -> String { "whsec_" + SecureToken.random(bytes: 32) }

    func validatedURL(_ value: JSONValue?) async throws -> String {
        guard case .string(let raw)? = value else { throw APIError.validation("url", "required", "url is required.") }
        let url = try WebhookURL(raw.trimmingCharacters(in: .whitespaces))
        do {
            try await AddressPolicy.check(url, resolver: resolver, allowInternal: policy.allowInternal)
        } catch let e as AddressRefused {
            throw APIError.validation("url", "private_address", e.message)
        }
        return url.raw
    }

    static func validatedEvents(_ value: JSONValue?) throws -> [String] {
        guard case .array(let items)? = value, !items.isEmpty, items.count <= maxEvents else {
            throw APIError.validation("events", "required", "events must list 1 to \(maxEvents) event types or patterns (deal.*, *).")
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item, EventPattern.isValid(s) else {
                throw APIError.validation("events[\(i)]", "invalid_value", "Unknown event type or pattern; see GET /event-types.")
            }
            if !out.contains(s) { out.append(s) }
        }
        return out
    }

    static func validatedDescription(_ value: JSONValue?) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)? where s.count <= 500: return s
        default: throw APIError.validation("description", "invalid_type", "description must be a string of at most 500 characters.")
        }
    }

    static func rejectUnknown(_ body: [String: JSONValue], allowed: Set<String>) throws {
        for key in body.keys.sorted() where !allowed.contains(key) { throw APIError.validation(key, "unknown_field", "Unknown field \(key).") }
    }

    func audit(_ p: Principal, _ action: String, _ e: WebhookEndpoint, changes: JSONValue, meta: RequestMeta, at now: Date, in tx: any StoreSession) async throws {
        try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: action, objectType: "webhook",
                                             objectID: e.id.rawValue, changes: changes, requestID: meta.requestID, ip: meta.ip, createdAt: now))
    }

    public func create(_ p: Principal, body: [String: JSONValue], meta: RequestMeta) async throws -> CreatedWebhook {
        try p.require(WebhookService.write)
        try WebhookService.rejectUnknown(body, allowed: ["url", "events", "description"])
        let events = try WebhookService.validatedEvents(body["events"])
        let description = try WebhookService.validatedDescription(body["description"])
        let url = try await validatedURL(body["url"])
        let now = clock.now()
        let secret = WebhookService.makeSecret()
        let endpoint = WebhookEndpoint(id: .generate(at: now), workspaceID: p.workspaceID, url: url, description: description, events: events,
                                       secret: secret, createdBy: p.userID, createdAt: now, updatedAt: now)
        try await store.write { tx in
            try await tx.webhooks.insert(endpoint)
            try await audit(p, "webhook.created", endpoint, changes: .object(["url": .string(url), "events": .array(events.map(JSONValue.string))]),
                            meta: meta, at: now, in: tx)
        }
        return CreatedWebhook(endpoint: endpoint, secret: secret)
    }

    public func get(_ p: Principal, id: WebhookID) async throws -> WebhookEndpoint {
        try p.require(WebhookService.read)
        guard let e = try await store.read({ try await $0.webhooks.get(p.workspaceID, id: id) }) else { throw APIError.notFound("Webhook") }
        return e
    }

    public func list(_ p: Principal, page: PageRequest) async throws -> Page<WebhookEndpoint> {
        try p.require(WebhookService.read)
        let before = try cursors.decodeID(page, fingerprint: "webhooks")
        let rows = try await store.read { try await $0.webhooks.list(p.workspaceID, before: before, limit: page.limit + 1) }
        return cursors.page(rows, limit: page.limit, fingerprint: "webhooks") { [$0.id.rawValue] }
    }

    /// `url`, `events`, `description`, and `status` (`active` | `paused`; `active` also re-enables a disabled endpoint).
    public func update(_ p: Principal, id: WebhookID, body: [String: JSONValue], ifMatch: Int?, meta: RequestMeta) async throws -> WebhookEndpoint {
        try p.require(WebhookService.write)
        try WebhookService.rejectUnknown(body, allowed: ["url", "events", "description", "status", "version"])
        var status: WebhookEndpoint.Status?
        if let s = body["status"] {
            guard case .string(let text) = s, let parsed = WebhookEndpoint.Status(rawValue: text), parsed != .disabled else {
                throw APIError.validation("status", "invalid_value", "status is active or paused (Keel disables endpoints itself).")
            }
            status = parsed
        }
        let events = body["events"] == nil ? nil : try WebhookService.validatedEvents(body["events"])
        let description = try WebhookService.validatedDescription(body["description"])
        let url = body["url"] == nil ? nil : try await validatedURL(body["url"])
        let now = clock.now()
        let expectedVersion = try ExpectedVersion.from(ifMatch: ifMatch, body: body)
        let newStatus = status
        return try await store.write { tx in
            guard var e = try await tx.webhooks.get(p.workspaceID, id: id) else { throw APIError.notFound("Webhook") }
            if let expectedVersion, expectedVersion != e.version { throw APIError.versionConflict(current: e.version) }
            var changes: [String: JSONValue] = [:]
            if let url, url != e.url { changes["url"] = .string(url); e.url = url }
            if let events, events != e.events { changes["events"] = .array(events.map(JSONValue.string)); e.events = events }
            if body["description"] != nil, description != e.description {
                changes["description"] = description.map(JSONValue.string) ?? .null
                e.description = description
            }
            if let newStatus, newStatus != e.status {
                changes["status"] = .string(newStatus.rawValue)
                e.status = newStatus
                e.disabledReason = nil
                e.failingSince = nil
            }
            guard !changes.isEmpty else { return e }
            e.version += 1
            e.updatedAt = now
            try await tx.webhooks.update(e)
            try await audit(p, "webhook.updated", e, changes: .object(changes), meta: meta, at: now, in: tx)
            return e
        }
    }

    public func delete(_ p: Principal, id: WebhookID, meta: RequestMeta) async throws {
        try p.require(WebhookService.write)
        let now = clock.now()
        try await store.write { tx in
            guard let e = try await tx.webhooks.get(p.workspaceID, id: id) else { throw APIError.notFound("Webhook") }
            try await tx.webhooks.failPending(p.workspaceID, endpointID: id, reason: "The endpoint was deleted.", at: now)
            try await tx.webhooks.delete(p.workspaceID, id: id)
            try await audit(p, "webhook.deleted", e, changes: .object(["url": .string(e.url)]), meta: meta, at: now, in: tx)
        }
    }

    /// A new secret; the old one keeps signing (as a second `v1`) for 24 hours.
    public func rotateSecret(_ p: Principal, id: WebhookID, meta: RequestMeta) async throws -> CreatedWebhook {
        try p.require(WebhookService.write)
        let now = clock.now()
        let secret = WebhookService.makeSecret()
        let e = try await store.write { tx in
            guard var e = try await tx.webhooks.get(p.workspaceID, id: id) else { throw APIError.notFound("Webhook") }
            e.previousSecret = e.secret
            e.previousSecretUntil = now.addingTimeInterval(86_400)
            e.secret = secret
            e.version += 1
            e.updatedAt = now
            try await tx.webhooks.update(e)
            try await audit(p, "webhook.secret_rotated", e, changes: .object([:]), meta: meta, at: now, in: tx)
            return e
        }
        return CreatedWebhook(endpoint: e, secret: secret)
    }

    /// Queues a `webhook.test` delivery to this endpoint only.
    public func test(_ p: Principal, id: WebhookID) async throws -> WebhookDelivery {
        try p.require(WebhookService.write)
        let now = clock.now()
        return try await store.write { tx in
            guard let e = try await tx.webhooks.get(p.workspaceID, id: id) else { throw APIError.notFound("Webhook") }
            guard e.status != .disabled else { throw APIError.conflict("The endpoint is disabled; PATCH its status to active first.") }
            let event = OutboxEvent(workspaceID: p.workspaceID, type: "webhook.test", occurredAt: now, actor: p.actor, objectType: "webhook",
                                    objectID: e.id.rawValue,
                                    payload: .object(["object": .object(["id": .string(e.id.rawValue), "url": .string(e.url)]),
                                                      "previous": .object([:]), "changed_fields": .array([])]))
            let d = WebhookDelivery(id: .generate(at: now), workspaceID: p.workspaceID, endpointID: e.id, eventID: event.id.rawValue,
                                    eventType: event.type, body: EventService.render(event).jsonString(), nextAttemptAt: now, createdAt: now, updatedAt: now)
            try await tx.webhooks.insertDelivery(d)
            return d
        }
    }

    public func deliveries(_ p: Principal, id: WebhookID, status: String?, eventID: String?, page: PageRequest) async throws
        -> Page<(WebhookDelivery, [WebhookAttempt])> {
        try p.require(WebhookService.read)
        var statusFilter: WebhookDelivery.Status?
        if let status {
            guard let s = WebhookDelivery.Status(rawValue: status) else {
                throw APIError.badRequest("status is pending, succeeded or failed.", field: "status")
            }
            statusFilter = s
        }
        if let eventID, EventID(eventID) == nil { throw APIError.badRequest("event_id is not an event id.", field: "event_id") }
        let wanted = statusFilter
        let fingerprint = "deliveries|\(id.rawValue)|\(status ?? "")|\(eventID ?? "")"
        let before = try cursors.decodeID(page, fingerprint: fingerprint)
        let (rows, attempts) = try await store.read { tx in
            guard try await tx.webhooks.get(p.workspaceID, id: id) != nil else { throw APIError.notFound("Webhook") }
            let rows = try await tx.webhooks.deliveries(p.workspaceID, endpointID: id, status: wanted, eventID: eventID, before: before,
                                                        limit: page.limit + 1)
            return (rows, try await tx.webhooks.attempts(p.workspaceID, deliveryIDs: rows.prefix(page.limit).map(\.id)))
        }
        let grouped = Dictionary(grouping: attempts, by: \.deliveryID)
        let paged = cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
        return Page(items: paged.items.map { ($0, (grouped[$0.id] ?? []).sorted { $0.attempt < $1.attempt }) }, nextCursor: paged.nextCursor)
    }

    /// Sends the same event again as a new delivery (same `Keel-Event-Id`, new `Keel-Delivery-Id`).
    public func redeliver(_ p: Principal, id: WebhookID, deliveryID: DeliveryID) async throws -> WebhookDelivery {
        try p.require(WebhookService.write)
        let now = clock.now()
        return try await store.write { tx in
            guard let e = try await tx.webhooks.get(p.workspaceID, id: id) else { throw APIError.notFound("Webhook") }
            guard let old = try await tx.webhooks.delivery(p.workspaceID, id: deliveryID), old.endpointID == id else {
                throw APIError.notFound("Delivery")
            }
            guard e.status != .disabled else { throw APIError.conflict("The endpoint is disabled; PATCH its status to active first.") }
            let d = WebhookDelivery(id: .generate(at: now), workspaceID: p.workspaceID, endpointID: id, eventID: old.eventID, eventType: old.eventType,
                                    body: old.body, nextAttemptAt: now, createdAt: now, updatedAt: now)
            try await tx.webhooks.insertDelivery(d)
            return d
        }
    }

    public static func render(_ e: WebhookEndpoint, secret: String? = nil, now: Date) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(e.id.rawValue), "url": .string(e.url), "description": e.description.map(JSONValue.string) ?? .null,
            "events": .array(e.events.map(JSONValue.string)), "status": .string(e.status.rawValue),
            "disabled_reason": e.disabledReason.map(JSONValue.string) ?? .null,
            "previous_secret_expires_at": e.previousSecretUntil.flatMap { $0 > now ? JSONValue.string(Timestamp.format($0)) : nil } ?? .null,
            "created_by": e.createdBy.map { .string($0.rawValue) } ?? .null,
            "created_at": .string(Timestamp.format(e.createdAt)), "updated_at": .string(Timestamp.format(e.updatedAt)),
            "version": .number(String(e.version)),
        ]
        if let secret { o["secret"] = .string(secret) }
        return .object(o)
    }

    public static func render(_ d: WebhookDelivery, attempts: [WebhookAttempt]?) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(d.id.rawValue), "webhook_id": .string(d.endpointID.rawValue), "event_id": .string(d.eventID),
            "event_type": .string(d.eventType), "status": .string(d.status.rawValue), "attempt_count": .number(String(d.attempts)),
            "next_attempt_at": d.status == .pending ? d.nextAttemptAt.map { .string(Timestamp.format($0)) } ?? .null : .null,
            "last_status_code": d.lastStatusCode.map { .number(String($0)) } ?? .null, "last_error": d.lastError.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.format(d.createdAt)), "updated_at": .string(Timestamp.format(d.updatedAt)),
        ]
        if let attempts {
            o["attempts"] = .array(attempts.map { a in
                .object(["attempt": .number(String(a.attempt)), "url": .string(a.url), "started_at": .string(Timestamp.format(a.startedAt)),
                         "duration_ms": .number(String(a.durationMillis)), "status_code": a.statusCode.map { .number(String($0)) } ?? .null,
                         "response_snippet": a.responseSnippet.map(JSONValue.string) ?? .null, "error": a.error.map(JSONValue.string) ?? .null,
                         "succeeded": .bool(a.succeeded)])
            })
        }
        return .object(o)
    }
}
