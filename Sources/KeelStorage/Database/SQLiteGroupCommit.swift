import Synchronization
import SQLKit

/// Group commit for the SQLite writer, with the writes of a group run by one task.
///
/// Every write transaction used to be BEGIN … COMMIT of its own, and each commit appends every page it dirtied to the WAL:
/// for a contact that is the table's last leaf, nine index leaves, the audit, history, outbox and idempotency pages, the
/// same hot pages again and again. Here, while other writes are queued for the writer, the group's transaction stays open
/// and takes them in; it commits when the queue is empty (or at the sixteenth member). Each write still runs in its own
/// savepoint, so one that fails undoes only its own changes, and each caller returns only after the commit that holds its
/// changes succeeded (if that commit fails, every member gets the error): an answer is never sent for a write that is not
/// durable. When nothing is queued, a write commits at once.
///
/// The task that opens a group (the leader) runs the queued writes' bodies itself, one after another. Handing a lock from
/// task to task instead cost a trip through the concurrency pool's queue per write (about 170 µs at 8 connections, a
/// quarter of a contact create), and the writer stood idle for all of it; now that trip is paid once per group, when the
/// leader passes the lead to the first write still queued after its commit.
final class SQLiteGroupCommit: @unchecked Sendable {
    static let maxMembers = 16

    private let writer: any SQLDatabase
    private let state = Mutex(State())

    private struct State {
        /// Whether a leader or an exclusive user holds the writer.
        var held = false
        var queue: [Waiter] = []
    }

    private enum Waiter {
        case write(Member)
        case exclusive(CheckedContinuation<Void, Never>)
    }

    init(writer: any SQLDatabase) {
        self.writer = writer
    }

    /// One write transaction, as a member of a group.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            let result = ResultBox<T>()
            let member = Member { db in
                do {
                    result.value = .success(try await body(db))
                } catch {
                    result.value = .failure(error)
                    throw error
                }
            }
            if !tryHold() {
                let signal = await withCheckedContinuation { (c: CheckedContinuation<Member.Signal, Never>) in
                    member.continuation = c
                    if holdOrQueue(.write(member)) { c.resume(returning: .lead) }
                }
                if case .done(let outcome) = signal {
                    try outcome.get()
                    return try result.get()
                }
            }
            let outcome = await lead(first: member)
            handOff()
            try outcome.get()
            return try result.get()
        }
    }

    /// The writer for raw use (migrations, pragmas, bulk loads), alone and outside any group.
    func exclusive<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if !tryHold() {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                if holdOrQueue(.exclusive(c)) { c.resume() }
            }
        }
        defer { handOff() }
        return try await body(writer)
    }

    /// Takes the writer if it was freed meanwhile (true: `waiter` was not queued), else queues `waiter` for it.
    private func holdOrQueue(_ waiter: Waiter) -> Bool {
        state.withLock { s in
            guard s.held else {
                s.held = true
                return true
            }
            s.queue.append(waiter)
            return false
        }
    }

    private func tryHold() -> Bool {
        state.withLock { s in
            guard !s.held else { return false }
            s.held = true
            return true
        }
    }

    /// Runs one group: `first` (the leader's own write), then queued writes until the queue is empty, an exclusive user is
    /// next, or the group is full; commits; tells every other member how it ended. Returns the leader's own outcome.
    private func lead(first: Member) async -> Result<Void, any Error> {
        do {
            try await writer.raw("BEGIN IMMEDIATE").run()
        } catch {
            first.body = nil
            return .failure(error)
        }
        var members: [Member] = []
        var next: Member? = first
        while let member = next {
            members.append(member)
            let broken = await run(member)
            if broken || members.count >= Self.maxMembers { break }
            next = state.withLock { s -> Member? in
                guard case .write(let queued) = s.queue.first else { return nil }
                s.queue.removeFirst()
                return queued
            }
        }
        var committed: Result<Void, any Error> = .success(())
        do {
            try await writer.raw("COMMIT").run()
        } catch {
            try? await writer.raw("ROLLBACK").run()
            committed = .failure(error)
        }
        for member in members.dropFirst() {
            member.continuation?.resume(returning: .done(member.outcome.flatMap { committed }))
        }
        return first.outcome.flatMap { committed }
    }

    /// One member's body inside its savepoint. True when the transaction itself is lost (the group cannot go on).
    private func run(_ member: Member) async -> Bool {
        guard let body = member.body else { return false }
        member.body = nil
        do {
            try await writer.raw("SAVEPOINT keel_member").run()
        } catch {
            member.outcome = .failure(error)
            return true
        }
        do {
            try await body(writer)
            try await writer.raw("RELEASE SAVEPOINT keel_member").run()
            return false
        } catch {
            member.outcome = .failure(error)
            // Some errors (disk full, I/O) make SQLite roll the whole transaction back; then the group cannot go on.
            do {
                try await writer.raw("ROLLBACK TO SAVEPOINT keel_member").run()
                try await writer.raw("RELEASE SAVEPOINT keel_member").run()
                return false
            } catch {
                return true
            }
        }
    }

    /// Passes the writer to the longest waiter (a queued write becomes the next leader), or frees it.
    private func handOff() {
        let next = state.withLock { s -> Waiter? in
            guard !s.queue.isEmpty else {
                s.held = false
                return nil
            }
            return s.queue.removeFirst()
        }
        switch next {
        case .write(let member): member.continuation?.resume(returning: .lead)
        case .exclusive(let c): c.resume()
        case nil: break
        }
    }

    /// A queued write. Touched by its own task until it is queued, then only by the leader that takes it from the queue.
    private final class Member: @unchecked Sendable {
        enum Signal: Sendable {
            /// Run a group, starting with this write.
            case lead
            /// Run by another task's group, which ended so.
            case done(Result<Void, any Error>)
        }

        var body: (@Sendable (any SQLDatabase) async throws -> Void)?
        var continuation: CheckedContinuation<Signal, Never>?
        var outcome: Result<Void, any Error> = .success(())

        init(body: @escaping @Sendable (any SQLDatabase) async throws -> Void) {
            self.body = body
        }
    }

    /// A write's own result, set by whichever task ran its body.
    private final class ResultBox<T: Sendable>: @unchecked Sendable {
        var value: Result<T, any Error>?

        func get() throws -> T {
            guard let value else { throw SQLiteGroupCommitError.notRun }
            return try value.get()
        }
    }
}

struct SQLiteGroupCommitError: Error, CustomStringConvertible {
    static let notRun = SQLiteGroupCommitError()
    var description: String { "the write was not run (its group could not begin)" }
}
