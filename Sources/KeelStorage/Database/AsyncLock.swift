import Synchronization

/// A FIFO async mutex: SQLite has one writer, so writes queue here instead of spinning on SQLITE_BUSY. A class over a
/// `Mutex` rather than an actor, so taking and handing over the lock costs no executor hops.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func lock() async {
        let acquired = state.withLock { s -> Bool in
            guard !s.locked else { return false }
            s.locked = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                guard s.locked else {
                    s.locked = true
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Hands the lock to the longest waiter, or frees it.
    func unlock() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.waiters.isEmpty else {
                s.locked = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Whether someone is queued for the lock (asked by its holder).
    var hasWaiters: Bool { state.withLock { !$0.waiters.isEmpty } }
}
