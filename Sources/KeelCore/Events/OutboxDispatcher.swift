import Foundation

/// Fans committed events out to webhook deliveries and automation runs.
///
/// Claims undispatched outbox rows in `seq` order (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single writer), writes one
/// delivery per matching endpoint and one run per matching automation, and marks the rows dispatched in the same transaction:
/// a crash before commit leaves them undispatched (nothing lost), after commit they are never fanned out again (nothing doubled).
public struct OutboxDispatcher: Sendable {
    let store: any Store
    let clock: any KeelClock
    public static let maxCausationDepth = 5

    public init(store: any Store, clock: any KeelClock) {
        self.store = store
        self.clock = clock
    }

    /// One batch: returns how many events were dispatched.
    @discardableResult
    public func dispatchBatch(limit: Int = 200) async throws -> Int {
        let now = clock.now()
        guard try await store.read({ try await $0.outbox.hasUndispatched() }) else { return 0 }
        return try await store.write { tx in
            let events = try await tx.outbox.claimUndispatched(limit: limit)
            guard !events.isEmpty else { return 0 }
            let workspaces = Array(Set(events.map(\.workspaceID)))
            let endpoints = Dictionary(grouping: try await tx.webhooks.receiving(workspaces), by: \.workspaceID)
            let automations = Dictionary(grouping: try await tx.automations.eventTriggered(workspaces), by: \.workspaceID)
            var ids = ULID.Sequence(at: now)
            for event in events {
                var body: String?
                for endpoint in endpoints[event.workspaceID] ?? [] where endpoint.subscribes(to: event.type) {
                    let text = body ?? EventService.render(event).jsonString()
                    body = text
                    try await tx.webhooks.insertDelivery(WebhookDelivery(
                        id: DeliveryID(trusted: "dlv_" + ids.next()), workspaceID: event.workspaceID, endpointID: endpoint.id, eventID: event.id.rawValue,
                        eventType: event.type, body: text, nextAttemptAt: now, createdAt: now, updatedAt: now))
                }
                for automation in automations[event.workspaceID] ?? [] where automation.trigger.event == event.type {
                    try await tx.automations.insertRun(OutboxDispatcher.run(for: automation, event: event, id: RunID(trusted: "run_" + ids.next()), at: now))
                }
            }
            try await tx.outbox.markDispatched(events.map(\.id), at: now)
            return events.count
        }
    }

    /// A pending run, or a failed one when the chain of automation-made changes is already too deep.
    static func run(for automation: Automation, event: OutboxEvent, id: RunID, at now: Date) -> AutomationRun {
        let tooDeep = event.causationDepth > maxCausationDepth
        return AutomationRun(id: id, workspaceID: event.workspaceID, automationID: automation.id, eventID: event.id.rawValue,
                             source: .event, objectType: event.objectType, objectID: event.objectID, status: tooDeep ? .failed : .pending,
                             causationDepth: event.causationDepth,
                             error: tooDeep ? "Stopped: a chain of automation changes deeper than \(maxCausationDepth) (loop guard)." : nil,
                             createdAt: now, finishedAt: tooDeep ? now : nil)
    }
}
