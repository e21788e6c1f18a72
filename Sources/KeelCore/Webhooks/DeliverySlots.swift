/// Which due deliveries a sender puts on the wire: at most `concurrency` at once, and at most `perEndpoint` to any one
/// endpoint, so a slow or hanging receiver ties up only its own share of the slots and never holds back the deliveries of
/// other endpoints (or other workspaces).
public struct DeliverySlots: Sendable, Equatable {
    public let concurrency: Int
    public let perEndpoint: Int
    public private(set) var inFlight: [WebhookID: Int] = [:]
    public private(set) var running = 0

    public init(concurrency: Int, perEndpoint: Int) {
        self.concurrency = max(concurrency, 1)
        self.perEndpoint = max(perEndpoint, 1)
    }

    public var free: Int { concurrency - running }

    /// Endpoints that may not take another delivery now.
    public var full: Set<WebhookID> { Set(inFlight.filter { $0.value >= perEndpoint }.keys) }

    /// How many candidates to look at for the free slots: more than the slots, since some may belong to endpoints with no
    /// room left, but bounded so that a claim stays one short query.
    public var candidateLimit: Int { min(free * 4, 64) }

    /// The candidates (in due order) that fit: while a slot is free, each one whose endpoint still has room.
    public func choose(_ candidates: [DueDelivery]) -> [DueDelivery] {
        var room = free
        var taken: [WebhookID: Int] = [:]
        var chosen: [DueDelivery] = []
        for c in candidates where room > 0 {
            let busy = (inFlight[c.endpointID] ?? 0) + (taken[c.endpointID] ?? 0)
            guard busy < perEndpoint else { continue }
            taken[c.endpointID, default: 0] += 1
            chosen.append(c)
            room -= 1
        }
        return chosen
    }

    /// Counts a delivery to this endpoint as on the wire.
    public mutating func started(_ endpointID: WebhookID) {
        inFlight[endpointID, default: 0] += 1
        running += 1
    }

    /// Frees the slot of a finished delivery to this endpoint.
    public mutating func finished(_ endpointID: WebhookID) {
        guard let n = inFlight[endpointID] else { return }
        inFlight[endpointID] = n > 1 ? n - 1 : nil
        running -= 1
    }
}
