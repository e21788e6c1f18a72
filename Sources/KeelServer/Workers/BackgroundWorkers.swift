import Foundation
import KeelCore
import Logging
import ServiceLifecycle

/// The outbox dispatcher, webhook sender, automation runner and scheduler, as one service of `keel serve`
/// (`KEEL_WORKERS=off` leaves them to dedicated worker instances).
struct BackgroundWorkers: Service {
    let dispatcher: OutboxDispatcher
    let sender: WebhookSender
    let runner: AutomationRunner
    let scheduler: Scheduler
    let poll: Duration
    let schedulerInterval: Duration
    let purgeInterval: Duration
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await loop("dispatcher") { try await dispatcher.dispatchBatch() > 0 } }
            group.addTask { await sender.run(poll: poll, isStopping: { BackgroundWorkers.stopping }) }
            group.addTask { await loop("automation runner") { try await runner.runOnce() > 0 } }
            group.addTask { await schedulerLoop() }
        }
    }

    static var stopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    /// Runs `pass` back to back while it finds work, and sleeps `poll` when idle.
    func loop(_ name: String, _ pass: @Sendable () async throws -> Bool) async {
        while !BackgroundWorkers.stopping {
            var busy = false
            do {
                busy = try await pass()
            } catch {
                logger.warning("\(name) pass failed", metadata: ["error": "\(error)"])
            }
            if !busy { try? await Task.sleep(for: poll) }
        }
    }

    func schedulerLoop() async {
        var lastPurge: ContinuousClock.Instant?
        var nextTick = ContinuousClock.now
        while !BackgroundWorkers.stopping {
            if ContinuousClock.now >= nextTick {
                do {
                    let report = try await scheduler.tick()
                    if report != Scheduler.TickReport() {
                        logger.info("scheduler", metadata: ["task_overdue": "\(report.overdue)", "deal_stale": "\(report.stale)",
                                                            "scheduled_runs": "\(report.scheduledRuns)"])
                    }
                    if lastPurge.map({ ContinuousClock.now - $0 >= purgeInterval }) ?? true {
                        let purged = try await scheduler.purge()
                        logger.info("retention purge", metadata: ["records": "\(purged.records)", "events": "\(purged.events)",
                                                                  "deliveries": "\(purged.deliveries)", "runs": "\(purged.runs)",
                                                                  "idempotency_keys": "\(purged.idempotencyKeys)", "workspaces": "\(purged.workspaces)"])
                        lastPurge = ContinuousClock.now
                    }
                } catch {
                    logger.warning("scheduler pass failed", metadata: ["error": "\(error)"])
                }
                nextTick = ContinuousClock.now + schedulerInterval
            }
            try? await Task.sleep(for: min(poll, .milliseconds(250)))
        }
    }
}

/// Closes the outgoing HTTP client when the service group shuts down (whether or not workers run here).
struct TransportLifecycleService: Service {
    let transport: HTTPWebhookTransport

    func run() async throws {
        try? await gracefulShutdown()
        await transport.shutdown()
    }
}
