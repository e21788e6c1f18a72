import Logging
import SQLiteNIO
import Synchronization

/// Copies committed WAL frames back into the SQLite database file in the background, on its own connection.
///
/// Left to SQLite, the checkpoint runs inside whichever commit crosses the WAL size limit: that commit then copies every
/// page and waits on two fsyncs while holding the single write lock, so every queued write waits with it and the CPU idles.
/// A PASSIVE checkpoint from another connection never blocks the writer or the readers. The writer keeps a high automatic
/// checkpoint limit only as a safety net in case this one falls behind.
final class SQLiteCheckpointer: Sendable {
    static let interval: Duration = .milliseconds(200)
    /// The writer's own limit (pages): reached only when the background checkpoints cannot keep up.
    static let writerSafetyLimit = 10_000

    private let connection: SQLiteConnection
    private let loop: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let paused = PauseFlag()

    private final class PauseFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    init(path: String, logger: Logger) async throws {
        connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        // The checkpoint syncs the WAL before copying and the database after, which is what makes NORMAL commits durable.
        for pragma in ["PRAGMA busy_timeout=10000", "PRAGMA synchronous=NORMAL"] {
            _ = try await connection.query(pragma)
        }
        let connection = self.connection
        let paused = self.paused
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: Self.interval)
                } catch {
                    return
                }
                if paused.value.load(ordering: .relaxed) { continue }
                do {
                    _ = try await connection.query("PRAGMA wal_checkpoint(PASSIVE)")
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("background WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
        loop.withLock { $0 = task }
    }

    /// Bulk loads grow the WAL on purpose and checkpoint once at the end.
    func pause() { paused.value.store(true, ordering: .relaxed) }

    func stop() async {
        let task = loop.withLock { current -> Task<Void, Never>? in
            defer { current = nil }
            return current
        }
        task?.cancel()
        await task?.value
        try? await connection.close()
    }
}
