import Logging
import SQLiteNIO
import Synchronization

/// Copies committed WAL frames back into the SQLite database file in the background, on its own connection, and keeps the
/// WAL short under a steady stream of writes.
///
/// Left to SQLite, the checkpoint runs inside whichever commit crosses the WAL size limit: that commit then copies every
/// page and waits on two fsyncs while holding the single write lock, so every queued write waits with it and the CPU idles.
/// A PASSIVE checkpoint from another connection never blocks the writer or the readers, but under steady writes it never
/// finishes either: the WAL starts over from its beginning only when a write transaction begins while every frame in it
/// has been copied, and new frames keep coming while a round copies. At 3,500 contact creates/s the WAL then reached the
/// writer's own limit about five times a second, and each time one commit spent some 36 ms checkpointing. So a round that
/// leaves a long WAL behind copies the few frames written meanwhile with the writer paused between two group commits
/// (`pauseWriter`): the next write transaction finds everything copied and starts the WAL over. The writer keeps its own
/// automatic checkpoint only as a safety net, in case the rounds fall behind.
final class SQLiteCheckpointer: Sendable {
    static let interval: Duration = .milliseconds(200)
    /// Between rounds while writes stream in: at 50,000 frames/s, 200 ms would let the WAL reach the writer's own limit.
    static let busyInterval: Duration = .milliseconds(25)
    /// The writer's own limit (pages): reached only when the background checkpoints cannot keep up.
    static let writerSafetyLimit = 10_000
    /// A WAL at least this long (frames) after a round is brought to its restart with the writer paused. Shorter, it is
    /// left to start over by itself when writes pause.
    static let restartThreshold = 1_000

    /// Runs its argument while no write transaction is open and none can begin.
    typealias WriterPause = @Sendable (@Sendable () async throws -> Outcome) async throws -> Outcome

    private let connection: SQLiteConnection
    private let pauseWriter: WriterPause
    private let loop: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let paused = PauseFlag()

    private final class PauseFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// What `PRAGMA wal_checkpoint` reports: frames in the WAL and frames copied into the database file.
    struct Outcome: Sendable, Equatable {
        var busy: Bool
        var walFrames: Int
        var copiedFrames: Int

        /// Whether a last round, with the writer paused, should finish the work so the WAL can start over.
        var wantsRestart: Bool { !busy && walFrames >= SQLiteCheckpointer.restartThreshold }
    }

    /// `interval` is the pause between rounds while the WAL is short (tests pass a long one and call `round` themselves).
    init(path: String, logger: Logger, interval: Duration = SQLiteCheckpointer.interval, pauseWriter: @escaping WriterPause) async throws {
        connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        self.pauseWriter = pauseWriter
        // The checkpoint syncs the WAL before copying and the database after, which is what makes NORMAL commits durable.
        for pragma in ["PRAGMA busy_timeout=10000", "PRAGMA synchronous=NORMAL"] {
            _ = try await connection.query(pragma)
        }
        let task = Task { [weak self] in
            var wait = interval
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    return
                }
                guard let self else { return }
                if paused.value.load(ordering: .relaxed) { continue }
                do {
                    let outcome = try await round()
                    wait = outcome.paused == nil ? interval : Self.busyInterval
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("background WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
        loop.withLock { $0 = task }
    }

    /// One round: a PASSIVE checkpoint beside the writer, then, if that left a long WAL, one with the writer paused.
    func round() async throws -> (first: Outcome, paused: Outcome?) {
        let connection = self.connection
        let first = try await Self.checkpoint(connection)
        guard first.wantsRestart else { return (first, nil) }
        return (first, try await pauseWriter { try await Self.checkpoint(connection) })
    }

    static func checkpoint(_ connection: SQLiteConnection) async throws -> Outcome {
        let rows = try await connection.query("PRAGMA wal_checkpoint(PASSIVE)")
        guard let row = rows.first, let busy = row.column("busy")?.integer, let log = row.column("log")?.integer,
              let copied = row.column("checkpointed")?.integer else {
            return Outcome(busy: true, walFrames: 0, copiedFrames: 0)
        }
        return Outcome(busy: busy != 0, walFrames: Int(log), copiedFrames: Int(copied))
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
