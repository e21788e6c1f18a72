import Foundation
import Synchronization

/// Token buckets per key (credential or client IP). In memory: limits are per instance.
final class RateLimiter: Sendable {
    struct Decision: Sendable {
        let allowed: Bool
        let limit: Int
        let remaining: Int
        let resetSeconds: Int
        let retryAfter: Int
    }

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    init(ratePerSecond: Double, burst: Int) {
        self.rate = ratePerSecond
        self.burst = Double(burst)
    }

    var enabled: Bool { rate > 0 && burst > 0 }

    func take(_ key: String, now: Double = Date().timeIntervalSince1970) -> Decision {
        guard enabled else { return Decision(allowed: true, limit: 0, remaining: 0, resetSeconds: 0, retryAfter: 0) }
        return buckets.withLock { all in
            if all.count > 100_000 {
                // Full buckets carry no state worth keeping.
                all = all.filter { $0.value.tokens + (now - $0.value.updated) * rate < burst }
            }
            var b = all[key] ?? Bucket(tokens: burst, updated: now)
            b.tokens = min(burst, b.tokens + (now - b.updated) * rate)
            b.updated = now
            let allowed = b.tokens >= 1
            if allowed { b.tokens -= 1 }
            all[key] = b
            let reset = Int(((burst - b.tokens) / rate).rounded(.up))
            let retry = allowed ? 0 : max(1, Int(((1 - b.tokens) / rate).rounded(.up)))
            return Decision(allowed: allowed, limit: Int(burst), remaining: Int(b.tokens.rounded(.down)), resetSeconds: reset, retryAfter: retry)
        }
    }
}
