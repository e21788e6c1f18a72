import Foundation

/// Claims pending runs (from the dispatcher and the scheduler) and executes them one by one, oldest first.
public struct AutomationRunner: Sendable {
    let store: any Store
    let clock: any KeelClock
    let executor: AutomationExecutor

    public init(store: any Store, clock: any KeelClock, executor: AutomationExecutor) {
        self.store = store
        self.clock = clock
        self.executor = executor
    }

    @discardableResult
    public func runOnce(limit: Int = 20) async throws -> Int {
        let now = clock.now()
        guard try await store.read({ try await $0.automations.hasClaimableRuns(now: now) }) else { return 0 }
        // The lease covers a run's worst case (a send_webhook timing out on each action); a dead runner's runs are taken again after it.
        let runs = try await store.write { try await $0.automations.claimRuns(now: now, leaseUntil: now.addingTimeInterval(600), limit: limit) }
        for run in runs { await executor.execute(run) }
        return runs.count
    }
}
