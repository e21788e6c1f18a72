import NIOConcurrencyHelpers
import SQLKit

/// Group commit for the SQLite writer.
///
/// Every write transaction used to be BEGIN … COMMIT of its own, and each commit appends every page it dirtied to the WAL:
/// for a contact that is the table's last leaf, nine index leaves, the audit, history, outbox and idempotency pages, the
/// same hot pages again and again. Here, while other writes are queued for the writer, a finished write leaves the
/// transaction open and hands it on; the last one in the group (or the sixteenth) commits for all. Each write still runs in
/// its own savepoint, so one that fails undoes only its own changes, and each caller returns only after the commit that
/// holds its changes succeeded (if that commit fails, every member gets the error): an answer is never sent for a write
/// that is not durable. When nothing is queued, a write commits at once, exactly as before.
final class SQLiteGroupCommit: @unchecked Sendable {
    static let maxMembers = 16

    private let writer: any SQLDatabase
    private let lock = AsyncLock()
    // Touched only by the holder of `lock`.
    private var open: Group?
    private var members = 0

    init(writer: any SQLDatabase) {
        self.writer = writer
    }

    /// One write transaction, as a member of the open group.
    func transaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        await lock.lock()
        let group: Group
        if let current = open {
            group = current
        } else {
            do {
                try await writer.raw("BEGIN IMMEDIATE").run()
            } catch {
                lock.unlock()
                throw error
            }
            group = Group()
            open = group
            members = 0
        }
        members += 1
        var outcome: Result<T, any Error>
        var broken = false
        do {
            try await writer.raw("SAVEPOINT keel_member").run()
            do {
                let result = try await body(writer)
                try await writer.raw("RELEASE SAVEPOINT keel_member").run()
                outcome = .success(result)
            } catch {
                outcome = .failure(error)
                // Some errors (disk full, I/O) make SQLite roll the whole transaction back; then the group cannot go on.
                do {
                    try await writer.raw("ROLLBACK TO SAVEPOINT keel_member").run()
                    try await writer.raw("RELEASE SAVEPOINT keel_member").run()
                } catch {
                    broken = true
                }
            }
        } catch {
            outcome = .failure(error)
            broken = true
        }
        if !broken, members < Self.maxMembers, lock.hasWaiters {
            lock.unlock()
        } else {
            await commitOpenGroup()
            lock.unlock()
        }
        let result = try outcome.get()
        try await group.committed()
        return result
    }

    /// The writer for raw use (migrations, pragmas, bulk loads): the open group is committed first.
    func exclusive<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        await lock.lock()
        await commitOpenGroup()
        do {
            let result = try await body(writer)
            lock.unlock()
            return result
        } catch {
            lock.unlock()
            throw error
        }
    }

    private func commitOpenGroup() async {
        guard let group = open else { return }
        open = nil
        members = 0
        do {
            try await writer.raw("COMMIT").run()
            group.finish(.success(()))
        } catch {
            try? await writer.raw("ROLLBACK").run()
            group.finish(.failure(error))
        }
    }

    /// The members of one transaction wait here for its commit.
    private final class Group: @unchecked Sendable {
        private let lock = NIOLock()
        private var outcome: Result<Void, any Error>?
        private var waiters: [CheckedContinuation<Void, any Error>] = []

        func finish(_ result: Result<Void, any Error>) {
            let waiting = lock.withLock { () -> [CheckedContinuation<Void, any Error>] in
                outcome = result
                defer { waiters = [] }
                return waiters
            }
            for waiter in waiting { waiter.resume(with: result) }
        }

        func committed() async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let done = lock.withLock { () -> Result<Void, any Error>? in
                    if let outcome { return outcome }
                    waiters.append(c)
                    return nil
                }
                if let done { c.resume(with: done) }
            }
        }
    }
}
