import Foundation
import Logging

/// What one attempt means for the delivery and its endpoint (pure, so the rules are unit-tested without HTTP).
public struct AttemptVerdict: Sendable, Equatable {
    public var delivery: WebhookDelivery
    /// The endpoint after the attempt (failure streak, or disabled with a reason), when it changed.
    public var endpoint: WebhookEndpoint?
    public var attempt: WebhookAttempt

    public static func judge(_ d: WebhookDelivery, endpoint e: WebhookEndpoint, outcome: TransportOutcome, startedAt: Date, now: Date,
                             policy: WebhookPolicy, jitter: Double = Double.random(in: -0.1...0.1)) -> AttemptVerdict {
        var d = d
        var e = e
        var endpointChanged = false
        d.attempts += 1
        d.lastStatusCode = outcome.statusCode
        d.lastError = outcome.error
        d.updatedAt = now
        if outcome.succeeded {
            d.status = .succeeded
            d.nextAttemptAt = nil
            if e.failingSince != nil {
                e.failingSince = nil
                endpointChanged = true
            }
        } else if outcome.statusCode == 410 {
            d.status = .failed
            d.nextAttemptAt = nil
            e.status = .disabled
            e.disabledReason = "The receiver answered 410 Gone at \(Timestamp.format(now))."
            endpointChanged = true
        } else {
            if e.failingSince == nil {
                e.failingSince = startedAt
                endpointChanged = true
            }
            if let since = e.failingSince, now.timeIntervalSince(since) >= policy.disableAfter {
                e.status = .disabled
                e.disabledReason = "Every delivery attempt failed since \(Timestamp.format(since)) (3 days)."
                endpointChanged = true
            }
            if e.status == .disabled {
                d.status = .failed
                d.nextAttemptAt = nil
            } else if let next = policy.retries.nextAttempt(after: d.attempts, from: now, jitter: jitter) {
                d.status = .pending
                d.nextAttemptAt = next
            } else {
                d.status = .failed
                d.nextAttemptAt = nil
            }
        }
        if endpointChanged, e.status == .disabled { e.version += 1; e.updatedAt = now }
        let attempt = WebhookAttempt(workspaceID: d.workspaceID, deliveryID: d.id, attempt: d.attempts, endpointID: e.id, url: e.url,
                                     startedAt: startedAt, durationMillis: outcome.durationMillis, statusCode: outcome.statusCode,
                                     responseSnippet: outcome.snippet,
                                     error: outcome.error, succeeded: outcome.succeeded)
        return AttemptVerdict(delivery: d, endpoint: endpointChanged ? e : nil, attempt: attempt)
    }
}

/// Claims due deliveries, POSTs them signed, and records every attempt.
public struct WebhookSender: Sendable {
    let store: any Store
    let clock: any KeelClock
    let transport: any WebhookTransport
    let resolver: any HostResolver
    let policy: WebhookPolicy
    let logger: Logger
    /// Deliveries on the wire at once (each may take up to the timeout).
    public var concurrency = 32
    /// Deliveries on the wire at once to one endpoint: a receiver that hangs holds at most this many slots.
    public var perEndpoint = 4

    public init(store: any Store, clock: any KeelClock, transport: any WebhookTransport, resolver: any HostResolver, policy: WebhookPolicy,
                logger: Logger) {
        self.store = store
        self.clock = clock
        self.transport = transport
        self.resolver = resolver
        self.policy = policy
        self.logger = logger
    }

    /// Sends until `isStopping()`: claims due deliveries whenever a slot is free and sends each one as soon as it is claimed,
    /// checking for new ones at least every `poll`. Sending in passes that waited for their slowest delivery let one receiver
    /// that hangs until the timeout hold back every other endpoint's deliveries for that long, pass after pass. When stopping,
    /// the deliveries on the wire finish and are recorded.
    public func run(poll: Duration, isStopping: @escaping @Sendable () -> Bool) async {
        enum Finished: Sendable {
            case sent(WebhookID)
            case tick
        }
        var slots = DeliverySlots(concurrency: concurrency, perEndpoint: perEndpoint)
        await withTaskGroup(of: Finished.self) { group in
            var ticking = false
            while !isStopping() {
                var claimed = 0
                if slots.free > 0 {
                    do {
                        for d in try await claim(slots) {
                            slots.started(d.endpointID)
                            group.addTask { await self.attempt(d); return .sent(d.endpointID) }
                            claimed += 1
                        }
                    } catch {
                        logger.warning("webhook sender claim failed", metadata: ["error": "\(error)"])
                    }
                }
                // Slots still free after a claim that found work: more may be due already.
                if claimed > 0 && slots.free > 0 { continue }
                if !ticking {
                    ticking = true
                    group.addTask { try? await Task.sleep(for: poll); return .tick }
                }
                switch await group.next() {
                case .sent(let endpoint): slots.finished(endpoint)
                case .tick: ticking = false
                case nil: break
                }
            }
        }
    }

    /// Leases the due deliveries that fit in the free slots.
    func claim(_ slots: DeliverySlots) async throws -> [WebhookDelivery] {
        let now = clock.now()
        guard try await store.read({ try await $0.webhooks.hasDue(now: now) }) else { return [] }
        // The lease outlives the timeout, so a crashed sender's deliveries are retried, and a live one's are not taken twice.
        let leaseUntil = now.addingTimeInterval(policy.timeout + 30)
        return try await store.write { tx in
            let candidates = try await tx.webhooks.dueCandidates(now: now, excluding: slots.full, limit: slots.candidateLimit)
            return try await tx.webhooks.lease(slots.choose(candidates), until: leaseUntil)
        }
    }

    func attempt(_ d: WebhookDelivery) async {
        do {
            guard let endpoint = try await store.read({ try await $0.webhooks.get(d.workspaceID, id: d.endpointID) }) else { return }
            let started = clock.now()
            let outcome = await send(d, to: endpoint, at: started)
            let finished = clock.now()
            try await store.write { [policy] tx in
                // Re-read: a PATCH or another attempt may have changed the endpoint while this one was on the wire.
                let current = try await tx.webhooks.get(d.workspaceID, id: d.endpointID) ?? endpoint
                let verdict = AttemptVerdict.judge(d, endpoint: current, outcome: outcome, startedAt: started, now: finished, policy: policy)
                try await tx.webhooks.appendAttempt(verdict.attempt)
                try await tx.webhooks.updateDelivery(verdict.delivery)
                if let changed = verdict.endpoint {
                    try await tx.webhooks.update(changed)
                    if changed.status == .disabled {
                        try await tx.webhooks.failPending(d.workspaceID, endpointID: changed.id, reason: changed.disabledReason ?? "disabled", at: finished)
                    }
                }
            }
            logger.debug("webhook attempt", metadata: ["workspace_id": .string(d.workspaceID.rawValue), "delivery_id": .string(d.id.rawValue),
                                                       "status": .string(outcome.statusCode.map(String.init) ?? outcome.error ?? "-")])
        } catch {
            logger.warning("webhook attempt not recorded", metadata: ["delivery_id": .string(d.id.rawValue), "error": "\(error)"])
        }
    }

    func send(_ d: WebhookDelivery, to endpoint: WebhookEndpoint, at now: Date) async -> TransportOutcome {
        do {
            // Checked again on every attempt: DNS may point somewhere else by now.
            try await AddressPolicy.check(try WebhookURL(endpoint.url), resolver: resolver, allowInternal: policy.allowInternal)
        } catch let e as AddressRefused {
            return TransportOutcome(statusCode: nil, snippet: nil, error: "refused: \(e.message)", durationMillis: 0)
        } catch {
            return TransportOutcome(statusCode: nil, snippet: nil, error: "invalid url", durationMillis: 0)
        }
        let t = Int(now.timeIntervalSince1970)
        let headers: [(String, String)] = [
            ("Content-Type", "application/json"), ("User-Agent", "Keel-Webhooks/1"), ("Keel-Event-Id", d.eventID), ("Keel-Event-Type", d.eventType),
            ("Keel-Delivery-Id", d.id.rawValue), ("Keel-Signature", WebhookSignature.header(secrets: endpoint.signingSecrets(at: now), timestamp: t, body: d.body)),
        ]
        return await transport.post(OutgoingRequest(url: endpoint.url, headers: headers, body: d.body, timeout: policy.timeout))
    }
}
