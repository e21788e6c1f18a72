import Foundation
import KeelCore
import KeelStorage
import Logging
import ServiceLifecycle

/// Sends one message. The log transport is the default; SMTP plugs in here later.
protocol MailTransport: Sendable {
    func send(_ message: MailMessage) async throws
}

/// Delivers mail by writing it to the log: the operator's inbox on a server without SMTP.
struct LogMailTransport: MailTransport {
    let logger: Logger

    func send(_ message: MailMessage) async throws {
        logger.notice("mail delivered to log", metadata: [
            "mail_id": .string(message.id.rawValue), "to": .string(message.to), "subject": .string(message.subject),
            "body": .string(message.body),
        ])
    }
}

/// Drains the mail outbox and expires idempotency keys and revoked-token markers.
struct MailAndHousekeepingService: Service {
    let store: any Store
    let transport: any MailTransport
    let clock: any KeelClock
    let logger: Logger
    let interval: Duration

    func run() async throws {
        var lastPurge = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await deliverPending()
                if ContinuousClock.now - lastPurge >= .seconds(3600) {
                    let purged = try await store.write { [clock] in try await $0.idempotency.purgeExpired(before: clock.now()) }
                    if purged > 0 { logger.info("expired idempotency keys purged", metadata: ["count": "\(purged)"]) }
                    lastPurge = ContinuousClock.now
                }
            } catch {
                logger.warning("mail/housekeeping pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Claims before sending: delivery is at most once per message even with several instances.
    func deliverPending() async throws {
        let now = clock.now()
        let claimed = try await store.write { try await $0.mail.claimPending(limit: 50, at: now) }
        for message in claimed {
            do {
                try await transport.send(message)
            } catch {
                logger.error("mail delivery failed", metadata: ["mail_id": .string(message.id.rawValue), "error": "\(error)"])
            }
        }
    }
}

/// Closes the database when the service group shuts down.
struct DatabaseLifecycleService: Service {
    let database: KeelDatabase

    func run() async throws {
        try? await gracefulShutdown()
        await database.shutdown()
    }
}
