import Foundation
import KeelCore
import Synchronization

/// Resolved credentials for at most a few seconds, so hot keys skip the lookup; identity changes clear it.
final class CredentialCache: Sendable {
    private let entries = Mutex<[String: (Principal, Double)]>([:])
    let ttl: Double

    init(ttl: Double) { self.ttl = ttl }

    func get(_ token: String, now: Double = Date().timeIntervalSince1970) -> Principal? {
        guard ttl > 0 else { return nil }
        return entries.withLock { all in
            guard let (p, at) = all[token] else { return nil }
            if now - at > ttl {
                all[token] = nil
                return nil
            }
            return p
        }
    }

    func put(_ token: String, _ p: Principal, now: Double = Date().timeIntervalSince1970) {
        guard ttl > 0 else { return }
        entries.withLock { all in
            if all.count > 50_000 { all.removeAll(keepingCapacity: true) }
            all[token] = (p, now)
        }
    }

    func invalidateAll() {
        entries.withLock { $0.removeAll(keepingCapacity: true) }
    }
}
