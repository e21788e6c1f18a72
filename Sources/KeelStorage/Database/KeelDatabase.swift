import AsyncKit
import Foundation
import KeelCore
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// The SQL store behind every repository: SQLite (one writer + a reader pool, WAL) or a PostgreSQL pool.
public final class KeelDatabase: Store, @unchecked Sendable {
    public let dialect: SQLDialectKind
    let logger: Logger
    private let backend: Backend

    private enum Backend {
        case sqlite(writer: SQLiteDirectDatabase, commits: SQLiteGroupCommit, readers: SQLiteDirectDatabase, checkpointer: SQLiteCheckpointer)
        case postgres(pool: EventLoopGroupConnectionPool<PostgresConnectionSource>)
    }

    public static func open(_ config: DatabaseConfig, logger: Logger) async throws -> KeelDatabase {
        switch config {
        case .sqlite(let path, let readerCount):
            let writer = SQLiteDirectDatabase(writer: try SQLiteDirect(path: path), logger: logger,
                                              eventLoop: MultiThreadedEventLoopGroup.singleton.any())
            // WAL lets readers run beside the single writer; NORMAL is durable across process crashes in WAL mode.
            // Page caches: 64 MB for the writer and 24 MB per reader keep the server under 300 MB on a million contacts.
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000",
                           "PRAGMA cache_size=-65536", "PRAGMA temp_store=MEMORY",
                           "PRAGMA wal_autocheckpoint=\(SQLiteCheckpointer.writerSafetyLimit)"] {
                try await writer.raw(SQLQueryString(pragma)).run()
            }
            var readerConnections: [SQLiteDirect] = []
            for _ in 0..<max(1, readerCount) {
                let r = SQLiteDirectDatabase(writer: try SQLiteDirect(path: path), logger: logger, eventLoop: writer.eventLoop)
                for pragma in ["PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000", "PRAGMA query_only=ON", "PRAGMA cache_size=-24576"] {
                    try await r.raw(SQLQueryString(pragma)).run()
                }
                readerConnections += r.connections
            }
            let readerThreads = NIOThreadPool(numberOfThreads: readerConnections.count)
            readerThreads.start()
            let readers = SQLiteDirectDatabase(connections: readerConnections, threads: readerThreads, logger: logger, eventLoop: writer.eventLoop)
            let commits = SQLiteGroupCommit(writer: writer)
            let checkpointer = try await SQLiteCheckpointer(path: path, logger: logger) { body in
                try await commits.exclusive { _ in try await body() }
            }
            return KeelDatabase(dialect: .sqlite, logger: logger, backend: .sqlite(writer: writer, commits: commits,
                                                                               readers: readers, checkpointer: checkpointer))
        case .postgres(let url, let poolSize, let searchPath):
            var sqlConfig = try SQLPostgresConfiguration(url: url)
            if let searchPath { sqlConfig.searchPath = [searchPath] }
            let group = MultiThreadedEventLoopGroup.singleton
            let perLoop = max(1, poolSize / max(1, System.coreCount))
            let pool = EventLoopGroupConnectionPool(source: PostgresConnectionSource(sqlConfiguration: sqlConfig),
                                                    maxConnectionsPerEventLoop: perLoop, requestTimeout: .seconds(10),
                                                    pruneInterval: .seconds(60), logger: logger, on: group)
            return KeelDatabase(dialect: .postgres, logger: logger, backend: .postgres(pool: pool))
        }
    }

    private init(dialect: SQLDialectKind, logger: Logger, backend: Backend) {
        self.dialect = dialect
        self.logger = logger
        self.backend = backend
    }

    public func shutdown() async {
        switch backend {
        case .sqlite(let writer, _, let readers, let checkpointer):
            await checkpointer.stop()
            await writer.close()
            await readers.close()
        case .postgres(let pool):
            try? await pool.shutdownAsync()
        }
    }

    /// Runs `body` with a raw SQL connection (migrations, tools, tests); inside `atomically` that is the joined transaction's.
    public func withSQL<T: Sendable>(write: Bool = true, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let joined = JoinedTransaction.current, joined.owner === self { return try await body(joined.db) }
        switch backend {
        case .sqlite(_, let commits, let readers, _):
            if write { return try await commits.exclusive(body) }
            return try await body(readers)
        case .postgres(let pool):
            let conn = try await pool.requestConnection(logger: logger).get()
            do {
                let result = try await body(conn.sql(queryLogLevel: nil))
                pool.releaseConnection(conn, logger: logger)
                return result
            } catch {
                pool.releaseConnection(conn, logger: logger)
                throw error
            }
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T {
        do {
            return try await withSQL(write: false) { db in try await body(SQLSession(db: db, dialect: dialect)) }
        } catch {
            throw StorageErrors.translate(error)
        }
    }

    public func write<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T {
        do {
            return try await transaction { db in try await body(SQLSession(db: db, dialect: dialect)) }
        } catch {
            throw StorageErrors.translate(error)
        }
    }

    /// Runs `body` as one transaction that every `read`, `write` and `transaction` made inside it, by this task and the tasks
    /// it starts, joins: a nested write becomes a savepoint, so its failure undoes only its own changes. The request pipeline
    /// uses it to commit a change and its stored Idempotency-Key answer together.
    public func atomically<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T {
        if let joined = JoinedTransaction.current, joined.owner === self { return try await write(body) }
        do {
            return try await transaction { db in
                try await JoinedTransaction.$current.withValue(JoinedTransaction(owner: self, db: db)) {
                    try await body(SQLSession(db: db, dialect: dialect))
                }
            }
        } catch {
            throw StorageErrors.translate(error)
        }
    }

    /// One transaction on one connection; rolled back when `body` throws. Inside `atomically` it is a savepoint instead.
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let joined = JoinedTransaction.current, joined.owner === self {
            let savepoint = "keel_sp_\(joined.nextSavepoint())"
            try await joined.db.raw("SAVEPOINT \(unsafeRaw: savepoint)").run()
            do {
                let result = try await body(joined.db)
                try await joined.db.raw("RELEASE SAVEPOINT \(unsafeRaw: savepoint)").run()
                return result
            } catch {
                try? await joined.db.raw("ROLLBACK TO SAVEPOINT \(unsafeRaw: savepoint)").run()
                try? await joined.db.raw("RELEASE SAVEPOINT \(unsafeRaw: savepoint)").run()
                throw error
            }
        }
        if case .sqlite(_, let commits, _, _) = backend { return try await commits.transaction(body) }
        return try await withSQL(write: true) { db in
            try await db.raw("BEGIN").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    /// After a bulk load on PostgreSQL: without statistics the planner takes every freshly filled table for empty and
    /// picks any index of the workspace (a filtered contact list scanned 10,000 rows in 7 ms instead of reading 51 in
    /// 0.6 ms) until autovacuum gets round to it. SQLite's plans do not rest on statistics here, so it gets none.
    public func refreshPlannerStatistics() async throws {
        guard dialect == .postgres else { return }
        try await withSQL(write: true) { try await $0.raw("ANALYZE").run() }
    }

    /// For bulk loads of demo data: a large page cache and no syncs (a crash mid-load only loses demo rows).
    public func enterBulkLoadMode() async throws {
        guard case .sqlite(_, _, _, let checkpointer) = backend else { return }
        checkpointer.pause()
        try await withSQL(write: true) { db in
            for pragma in ["PRAGMA synchronous=OFF", "PRAGMA cache_size=-1048576", "PRAGMA wal_autocheckpoint=100000"] {
                try await db.raw(SQLQueryString(pragma)).run()
            }
        }
    }

    /// Runs a bulk load with the secondary indexes of the given tables dropped while those tables are empty, and builds them
    /// again afterwards (even when the load fails): one sorted index build is several times faster than maintaining nine
    /// indexes row by row. Tables that already hold rows keep their indexes. SQLite only; elsewhere `body` just runs.
    public func withIndexesDeferred<T: Sendable>(on tables: [String], _ body: () async throws -> T) async throws -> T {
        guard dialect == .sqlite else { return try await body() }
        var dropped: [String] = []
        try await withSQL(write: true) { db in
            for table in tables {
                guard try await db.raw("SELECT 1 AS one FROM \(ident: table) LIMIT 1").first() == nil else { continue }
                let indexes = try await db.raw("""
                    SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = \(bind: table) AND sql IS NOT NULL
                    """).all()
                for row in indexes {
                    let name = try row.decode(column: "name", as: String.self)
                    dropped.append(try row.decode(column: "sql", as: String.self))
                    try await db.raw("DROP INDEX \(ident: name)").run()
                }
            }
        }
        let rebuild = dropped
        func restore() async throws {
            try await withSQL(write: true) { db in
                for sql in rebuild { try await db.raw(SQLQueryString(sql)).run() }
            }
        }
        do {
            let result = try await body()
            try await restore()
            return result
        } catch {
            try? await restore()
            throw error
        }
    }

    public func ping() async throws {
        try await withSQL(write: false) { db in try await db.raw("SELECT 1").run() }
    }
}

/// The transaction `KeelDatabase.atomically` opened for the current task.
final class JoinedTransaction: Sendable {
    @TaskLocal static var current: JoinedTransaction?

    let owner: KeelDatabase
    let db: any SQLDatabase
    private let savepoints = Atomic<Int>(0)

    init(owner: KeelDatabase, db: any SQLDatabase) {
        self.owner = owner
        self.db = db
    }

    func nextSavepoint() -> Int { savepoints.add(1, ordering: .relaxed).newValue }
}

enum StorageErrors {
    /// Turns driver unique-constraint errors into the domain's `UniqueViolation`; everything else passes through.
    static func translate(_ error: any Error) -> any Error {
        if let e = error as? SQLiteDirectError, e.isUniqueViolation { return UniqueViolation(constraint: e.message) }
        if let e = error as? SQLiteError {
            switch e.reason {
            case .constraintUniqueFailed, .constraintPrimaryKeyFailed: return UniqueViolation(constraint: e.message)
            default: return error
            }
        }
        if let e = error as? PSQLError, e.serverInfo?[.sqlState] == "23505" {
            return UniqueViolation(constraint: e.serverInfo?[.constraintName] ?? "unique")
        }
        return error
    }

    static func isUnique(_ error: any Error) -> Bool { translate(error) is UniqueViolation }
}
