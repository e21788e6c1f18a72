import Foundation

/// A receiver that gets signed event deliveries.
public struct WebhookEndpoint: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case active, paused, disabled }

    public var id: WebhookID
    public var workspaceID: WorkspaceID
    public var url: String
    public var description: String?
    /// Exact types, `prefix.*` wildcards, or `*`.
    public var events: [String]
    public var secret: String
    /// Still signed with for 24 h after a rotation, so receivers can switch without dropping deliveries.
    public var previousSecret: String?
    public var previousSecretUntil: Date?
    public var status: Status
    public var disabledReason: String?
    /// Start of the current unbroken run of failed attempts (nil after any success).
    public var failingSince: Date?
    public var createdBy: UserID?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: WebhookID, workspaceID: WorkspaceID, url: String, description: String?, events: [String], secret: String,
                previousSecret: String? = nil, previousSecretUntil: Date? = nil, status: Status = .active, disabledReason: String? = nil,
                failingSince: Date? = nil, createdBy: UserID?, createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.workspaceID = workspaceID
        self.url = url
        self.description = description
        self.events = events
        self.secret = secret
        self.previousSecret = previousSecret
        self.previousSecretUntil = previousSecretUntil
        self.status = status
        self.disabledReason = disabledReason
        self.failingSince = failingSince
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    public func subscribes(to type: String) -> Bool { events.contains { EventPattern.matches($0, type) } }

    /// The secrets a delivery at `now` is signed with, newest first.
    public func signingSecrets(at now: Date) -> [String] {
        if let previousSecret, let until = previousSecretUntil, now < until { return [secret, previousSecret] }
        return [secret]
    }
}

/// One event on its way to one endpoint; retried until it succeeds or runs out of attempts.
public struct WebhookDelivery: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case pending, succeeded, failed }

    public var id: DeliveryID
    public var workspaceID: WorkspaceID
    public var endpointID: WebhookID
    public var eventID: String
    public var eventType: String
    /// The exact bytes POSTed (frozen at fan-out, so every attempt and every redelivery sends the same event).
    public var body: String
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: DeliveryID, workspaceID: WorkspaceID, endpointID: WebhookID, eventID: String, eventType: String, body: String,
                status: Status = .pending, attempts: Int = 0, nextAttemptAt: Date?, lastStatusCode: Int? = nil, lastError: String? = nil,
                createdAt: Date, updatedAt: Date) {
        self.id = id
        self.workspaceID = workspaceID
        self.endpointID = endpointID
        self.eventID = eventID
        self.eventType = eventType
        self.body = body
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One HTTP attempt of a delivery, as the delivery log shows it.
public struct WebhookAttempt: Sendable, Equatable {
    public var workspaceID: WorkspaceID
    public var deliveryID: DeliveryID
    public var attempt: Int
    public var endpointID: WebhookID
    public var url: String
    public var startedAt: Date
    public var durationMillis: Int
    public var statusCode: Int?
    public var responseSnippet: String?
    public var error: String?
    public var succeeded: Bool

    public init(workspaceID: WorkspaceID, deliveryID: DeliveryID, attempt: Int, endpointID: WebhookID, url: String, startedAt: Date,
                durationMillis: Int, statusCode: Int?, responseSnippet: String?, error: String?, succeeded: Bool) {
        self.workspaceID = workspaceID
        self.deliveryID = deliveryID
        self.attempt = attempt
        self.endpointID = endpointID
        self.url = url
        self.startedAt = startedAt
        self.durationMillis = durationMillis
        self.statusCode = statusCode
        self.responseSnippet = responseSnippet
        self.error = error
        self.succeeded = succeeded
    }
}

/// Event-type patterns: `deal.stage_changed`, `deal.*`, `*`.
public enum EventPattern {
    public static func matches(_ pattern: String, _ type: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") { return type.hasPrefix(pattern.dropLast(1)) }
        return pattern == type
    }

    /// A pattern is valid when it names a known type or a wildcard that covers at least one.
    public static func isValid(_ pattern: String) -> Bool {
        pattern == "*" || EventCatalog.all.contains { matches(pattern, $0.type) }
    }
}

/// A due delivery, as much of it as choosing what to send next needs.
public struct DueDelivery: Sendable, Equatable {
    public var workspaceID: WorkspaceID
    public var id: DeliveryID
    public var endpointID: WebhookID

    public init(workspaceID: WorkspaceID, id: DeliveryID, endpointID: WebhookID) {
        self.workspaceID = workspaceID
        self.id = id
        self.endpointID = endpointID
    }
}

public protocol WebhookRepository: Sendable {
    func insert(_ endpoint: WebhookEndpoint) async throws
    func get(_ workspaceID: WorkspaceID, id: WebhookID) async throws -> WebhookEndpoint?
    func list(_ workspaceID: WorkspaceID, before: String?, limit: Int) async throws -> [WebhookEndpoint]
    func update(_ endpoint: WebhookEndpoint) async throws
    func delete(_ workspaceID: WorkspaceID, id: WebhookID) async throws
    /// Endpoints that take new deliveries (active or paused), across the given workspaces.
    func receiving(_ workspaceIDs: [WorkspaceID]) async throws -> [WebhookEndpoint]

    func insertDelivery(_ delivery: WebhookDelivery) async throws
    func delivery(_ workspaceID: WorkspaceID, id: DeliveryID) async throws -> WebhookDelivery?
    func deliveries(_ workspaceID: WorkspaceID, endpointID: WebhookID, status: WebhookDelivery.Status?, eventID: String?, before: String?,
                    limit: Int) async throws -> [WebhookDelivery]
    func attempts(_ workspaceID: WorkspaceID, deliveryIDs: [DeliveryID]) async throws -> [WebhookAttempt]
    /// Up to `limit` unleased due deliveries of active endpoints, oldest due first, skipping the endpoints in `excluding`
    /// (PostgreSQL: rows locked by another sender's claim are skipped too, and these stay locked until this transaction ends).
    func dueCandidates(now: Date, excluding: Set<WebhookID>, limit: Int) async throws -> [DueDelivery]
    /// Leases these deliveries until `leaseUntil`, so no two senders take the same one; returns them as leased.
    func lease(_ deliveries: [DueDelivery], until leaseUntil: Date) async throws -> [WebhookDelivery]
    func hasDue(now: Date) async throws -> Bool
    func appendAttempt(_ attempt: WebhookAttempt) async throws
    func updateDelivery(_ delivery: WebhookDelivery) async throws
    /// Gives up on an endpoint's unfinished deliveries (it was disabled or deleted).
    func failPending(_ workspaceID: WorkspaceID, endpointID: WebhookID, reason: String, at: Date) async throws
    func purgeDeliveries(before: Date) async throws -> Int
}
