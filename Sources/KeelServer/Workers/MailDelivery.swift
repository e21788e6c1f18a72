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

/// Drains the mail outbox (retention, idempotency expiry included, belongs to the scheduler).
struct MailDeliveryService: Service {
    let store: any Store
    let transport: any MailTransport
    let clock: any KeelClock
    let logger: Logger
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await deliverPending()
            } catch {
                logger.warning("mail delivery pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Claims before sending: delivery is at most once per message even with several instances.
    func deliverPending() async throws {
        let now = clock.now()
        guard try await !store.read({ try await $0.mail.pending(limit: 1) }).isEmpty else { return }
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
