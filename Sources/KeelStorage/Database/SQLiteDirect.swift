import CKeelSQLite
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// A SQLite connection driven through the sqlite3 C API, with cached prepared statements: the writer, and each reader of
/// the reader pool.
///
/// SQLiteNIO prepares every statement anew (for a `GET /contacts/{id}`, parsing the SELECT was 6% of the request) and
/// decodes every value through a generic Decoder. The writer runs its statements inline on the calling thread: a contact
/// create is about fifteen statements behind the single write lock, and two thread switches per statement, not SQLite, set
/// the write throughput. The readers run theirs on a thread pool of their own (see `SQLiteDirectDatabase`). One statement
/// at a time per connection (the lock below); a statement never awaits while it holds it.
final class SQLiteDirect: @unchecked Sendable {
    private let lock = NIOLock()
    /// A hint for the reader pool, so a read goes to an idle connection rather than queueing behind a long one.
    private let busy = Atomic<Bool>(false)
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    /// Each prepared statement's result columns, with the statement's re-prepare count when they were read: building the
    /// name map anew for every run was 3% of a `GET /contacts/{id}`. A schema change makes SQLite re-prepare the statement
    /// (a `SELECT *` may then have other columns), which moves the count, so the map is built again.
    private var columnCache: [OpaquePointer: (reprepares: Int32, columns: SQLiteDirectRow.Columns)] = [:]
    private static let initialized = NIOLockedValueBox(false)
    /// Distinct statement texts kept prepared; IN-lists of varying length make new texts, so the cache is bounded.
    private static let cacheLimit = 512
    /// Longer texts are prepared for one run and finalized: they are bulk loads with literal values, each text run once.
    /// Cached, each was hashed twice and kept prepared until the cache was full (a tenth of `keel seed-demo`'s time).
    static let cachedTextLimit = 8_192

    /// Sets SQLite up once per process: Keel's page-cache wrapper (CKeelSQLite.c), then initialization. The wrapper can only
    /// go in before SQLite first runs; if something else started it already, the stock cache serves.
    static func prepareLibrary() {
        initialized.withLockedValue { done in
            if !done {
                _ = keel_sqlite3_install_page_cache()
                _ = sqlite_nio_sqlite3_initialize()
                done = true
            }
        }
    }

    static var pageCacheWrapped: Bool { keel_sqlite3_page_cache_installed() != 0 }
    static var cacheTruncationsSkipped: UInt64 { UInt64(keel_sqlite3_truncations_skipped()) }

    init(path: String) throws {
        Self.prepareLibrary()
        var db: OpaquePointer?
        let flags = KEEL_SQLITE_OPEN_READWRITE | KEEL_SQLITE_OPEN_CREATE | KEEL_SQLITE_OPEN_NOMUTEX
        let rc = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
        guard rc == KEEL_SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { _ = sqlite_nio_sqlite3_close_v2(db) }
            throw SQLiteDirectError(code: rc, message: "cannot open \(path): \(message)")
        }
        _ = sqlite_nio_sqlite3_extended_result_codes(db, 1)
        // Without the planner stability guarantee, a `col = ?` on a table with a partial index (`WHERE email IS NOT NULL`)
        // marks the statement to be re-prepared whenever that parameter is bound again, which defeats the statement cache.
        _ = keel_sqlite3_enable_qpsg(db)
        handle = db
    }

    func close() {
        lock.withLock {
            for statement in statements.values { _ = sqlite_nio_sqlite3_finalize(statement) }
            statements.removeAll()
            columnCache.removeAll()
            if let handle { _ = sqlite_nio_sqlite3_close_v2(handle) }
            handle = nil
        }
    }

    /// How many statement texts are kept prepared (for tests).
    var cachedStatementCount: Int { lock.withLock { statements.count } }

    func claimIfIdle() -> Bool { busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged }
    func unclaim() { busy.store(false, ordering: .releasing) }

    /// Runs one statement, calling `onRow` for each result row.
    func run(_ sql: String, _ binds: [SQLiteData], _ onRow: (SQLiteDirectRow) -> Void) throws {
        try lock.withLock {
            guard let db = handle else { throw SQLiteDirectError(code: 21, message: "the connection is closed") }
            let cached = sql.utf8.count <= Self.cachedTextLimit
            let statement = try cached ? prepared(sql, db: db) : preparedOnce(sql, db: db)
            defer {
                if cached {
                    _ = sqlite_nio_sqlite3_reset(statement)
                    _ = sqlite_nio_sqlite3_clear_bindings(statement)
                } else {
                    _ = sqlite_nio_sqlite3_finalize(statement)
                }
            }
            for (offset, value) in binds.enumerated() {
                let rc = Self.bind(value, at: Int32(offset + 1), to: statement)
                guard rc == KEEL_SQLITE_OK else { throw error(rc, db: db) }
            }
            var columns: SQLiteDirectRow.Columns?
            while true {
                let rc = sqlite_nio_sqlite3_step(statement)
                if rc == KEEL_SQLITE_DONE { return }
                guard rc == KEEL_SQLITE_ROW else { throw error(rc, db: db) }
                let names = columns ?? (cached ? cachedColumns(of: statement) : Self.columns(of: statement))
                columns = names
                onRow(SQLiteDirectRow(columns: names, values: (0..<Int32(names.names.count)).map { Self.value(statement, $0) }))
            }
        }
    }

    private func prepared(_ sql: String, db: OpaquePointer) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        let statement = try compile(sql, db: db, persistent: true)
        if statements.count >= Self.cacheLimit {
            for old in statements.values { _ = sqlite_nio_sqlite3_finalize(old) }
            statements.removeAll(keepingCapacity: true)
            columnCache.removeAll(keepingCapacity: true)
        }
        statements[sql] = statement
        return statement
    }

    private func preparedOnce(_ sql: String, db: OpaquePointer) throws -> OpaquePointer {
        try compile(sql, db: db, persistent: false)
    }

    private func compile(_ sql: String, db: OpaquePointer, persistent: Bool) throws -> OpaquePointer {
        var statement: OpaquePointer?
        let rc = sqlite_nio_sqlite3_prepare_v3(db, sql, -1, persistent ? UInt32(KEEL_SQLITE_PREPARE_PERSISTENT) : 0, &statement, nil)
        guard rc == KEEL_SQLITE_OK, let statement else { throw error(rc, db: db) }
        return statement
    }

    private func error(_ rc: Int32, db: OpaquePointer) -> SQLiteDirectError {
        SQLiteDirectError(code: sqlite_nio_sqlite3_extended_errcode(db), message: String(cString: sqlite_nio_sqlite3_errmsg(db)))
    }

    private static func bind(_ value: SQLiteData, at index: Int32, to statement: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let i):
            return sqlite_nio_sqlite3_bind_int64(statement, index, Int64(i))
        case .float(let d):
            return sqlite_nio_sqlite3_bind_double(statement, index, d)
        case .text(let s):
            var s = s
            return s.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    guard let base = chars.baseAddress else {
                        // A non-nil pointer for "" so SQLite stores an empty string, not NULL.
                        return "".withCString { keel_sqlite3_bind_text_copy(statement, index, $0, 0) }
                    }
                    return keel_sqlite3_bind_text_copy(statement, index, base, Int32(chars.count))
                }
            }
        case .blob(let buffer):
            return buffer.withUnsafeReadableBytes { raw in
                keel_sqlite3_bind_blob_copy(statement, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count))
            }
        case .null:
            return sqlite_nio_sqlite3_bind_null(statement, index)
        }
    }

    private func cachedColumns(of statement: OpaquePointer) -> SQLiteDirectRow.Columns {
        let reprepares = sqlite_nio_sqlite3_stmt_status(statement, KEEL_SQLITE_STMTSTATUS_REPREPARE, 0)
        if let hit = columnCache[statement], hit.reprepares == reprepares { return hit.columns }
        let fresh = Self.columns(of: statement)
        columnCache[statement] = (reprepares, fresh)
        return fresh
    }

    private static func columns(of statement: OpaquePointer) -> SQLiteDirectRow.Columns {
        let count = sqlite_nio_sqlite3_column_count(statement)
        var names: [String] = []
        var index: [String: Int] = [:]
        for i in 0..<count {
            let name = sqlite_nio_sqlite3_column_name(statement, i).map { String(cString: $0) } ?? ""
            names.append(name)
            if index[name] == nil { index[name] = Int(i) }
        }
        return SQLiteDirectRow.Columns(names: names, index: index)
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case KEEL_SQLITE_INTEGER:
            return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
        case KEEL_SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case KEEL_SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case KEEL_SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard let bytes = sqlite_nio_sqlite3_column_blob(statement, column), count > 0 else { return .blob(ByteBuffer()) }
            return .blob(ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }
}

/// A failed sqlite3 call on the writer, with SQLite's extended result code.
struct SQLiteDirectError: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    /// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
    var isUniqueViolation: Bool { code == 2067 || code == 1555 }
    var description: String { "SQLite error \(code): \(message)" }
}

/// One result row of the writer, decoded the way SQLiteKit decodes SQLiteNIO's rows.
struct SQLiteDirectRow: SQLRow {
    struct Columns: Sendable {
        let names: [String]
        let index: [String: Int]
    }

    let columns: Columns
    let values: [SQLiteData]

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.index[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let i = columns.index[column] else { return true }
        return values[i] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let i = columns.index[column] else {
            throw DecodingError.keyNotFound(SQLiteDirectColumnKey(column), .init(codingPath: [], debugDescription: "no column \(column)"))
        }
        if let fast = Self.fastDecode(values[i], as: D.self) { return fast }
        return try SQLiteDataDecoder().decode(D.self, from: values[i])
    }

    /// A text column as it is: `.some(nil)` for NULL, `.none` when the column is missing or holds another storage class
    /// (the caller then goes the generic way, which reports the error).
    func text(_ column: String) -> String?? {
        guard let i = columns.index[column] else { return .none }
        switch values[i] {
        case .text(let s): return .some(s)
        case .null: return .some(nil)
        default: return .none
        }
    }

    /// An integer column as it is, on the same terms as `text`.
    func integer(_ column: String) -> Int64?? {
        guard let i = columns.index[column] else { return .none }
        switch values[i] {
        case .integer(let v): return .some(Int64(v))
        case .null: return .some(nil)
        default: return .none
        }
    }

    /// The common column types without SQLiteKit's generic decoder (which builds a Decoder per value); anything else, and
    /// any value of an unexpected storage class, goes the generic way, which also reports the error.
    private static func fastDecode<D>(_ value: SQLiteData, as type: D.Type) -> D? {
        switch value {
        case .text(let s):
            if let s = s as? D { return s }
            if D.self == String?.self { return Optional(s) as? D }
        case .integer(let i):
            if D.self == Int.self || D.self == Int?.self { return i as? D ?? Optional(i) as? D }
            if D.self == Int64.self || D.self == Int64?.self { return Int64(i) as? D ?? Optional(Int64(i)) as? D }
        case .float(let d):
            if D.self == Double.self || D.self == Double?.self { return d as? D ?? Optional(d) as? D }
        case .null:
            if D.self == String?.self { return String?.none as? D }
            if D.self == Int?.self { return Int?.none as? D }
            if D.self == Int64?.self { return Int64?.none as? D }
            if D.self == Double?.self { return Double?.none as? D }
        case .blob:
            break
        }
        return nil
    }
}

private struct SQLiteDirectColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// SQLKit's view of one direct connection (the writer) or of several (the reader pool: each statement goes to an idle
/// connection, so concurrent reads run side by side).
///
/// The writer's statements run inline. A reader statement runs inline only when its last run returned at most one row in
/// under `inlineLimit` (a lookup by id: tens of microseconds, less than the two thread switches a handoff costs); any
/// other, and any statement seen for the first time, runs on `threads`. Run inline, the lists made the two threads of the concurrency
/// pool serve requests in turns of whole queries, and their p99 went from 15 ms to 50-90 ms at 8 connections; on OS
/// threads the kernel shares the cores fairly.
struct SQLiteDirectDatabase: SQLDatabase {
    static let inlineLimit = Duration.microseconds(100)

    let connections: [SQLiteDirect]
    let logger: Logger
    let eventLoop: any EventLoop
    let threads: NIOThreadPool?
    private let cursor: Cursor
    private let costs: StatementCosts
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    init(connections: [SQLiteDirect], threads: NIOThreadPool?, logger: Logger, eventLoop: any EventLoop) {
        self.connections = connections
        self.threads = threads
        self.logger = logger
        self.eventLoop = eventLoop
        self.cursor = Cursor()
        self.costs = StatementCosts()
    }

    init(writer: SQLiteDirect, logger: Logger, eventLoop: any EventLoop) {
        self.init(connections: [writer], threads: nil, logger: logger, eventLoop: eventLoop)
    }

    func close() async {
        try? await threads?.shutdownGracefully()
        for connection in connections { connection.close() }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            let statement = try prepare(query)
            if let threads {
                return threads.runIfActive(eventLoop: eventLoop) { try self.run(statement, onRow) }
            }
            try run(statement, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let statement = try prepare(query)
        guard let threads else { return try run(statement, onRow) }
        if costs.isCheap(statement.sql), let connection = idleConnection() {
            defer { connection.unclaim() }
            return try timed(statement, on: connection, onRow)
        }
        try await threads.runIfActive { try self.run(statement, onRow) }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    /// Whether the statement's next run would be inline (for tests).
    func runsInline(_ sql: String) -> Bool { threads == nil || costs.isCheap(sql) }

    /// A statement's text and values: a `PlainStatement` as it is, anything else through SQLKit's serializer.
    private func prepare(_ query: any SQLExpression) throws -> Statement {
        if let plain = query as? PlainStatement {
            return Statement(sql: plain.sql, values: plain.values.map { v -> SQLiteData in
                switch v {
                case .text(let s): s.map { .text($0) } ?? .null
                case .int(let i): i.map { .integer(Int($0)) } ?? .null
                }
            })
        }
        let serialized = serialize(query)
        return Statement(sql: serialized.sql, values: try encode(serialized.binds))
    }

    private struct Statement: Sendable {
        let sql: String
        let values: [SQLiteData]
    }

    private func run(_ statement: Statement, _ onRow: (any SQLRow) -> Void) throws {
        guard connections.count > 1 else { return try connections[0].run(statement.sql, statement.values) { onRow($0) } }
        if let connection = idleConnection() {
            defer { connection.unclaim() }
            return try timed(statement, on: connection, onRow)
        }
        // Every connection is busy: wait for one (statements never await while they hold a connection).
        try timed(statement, on: connections[cursor.next() % connections.count], onRow)
    }

    private func encode(_ binds: [any Encodable & Sendable]) throws -> [SQLiteData] {
        var encoder: SQLiteDataEncoder?
        var out: [SQLiteData] = []
        out.reserveCapacity(binds.count)
        for bind in binds {
            if let data = Self.plainData(bind) {
                out.append(data)
            } else {
                let generic = encoder ?? SQLiteDataEncoder()
                encoder = generic
                out.append(try generic.encode(bind))
            }
        }
        return out
    }

    /// The bind types the repositories use, converted as SQLiteDataEncoder converts them but without its protocol lookup
    /// (and, for optionals, its nested Encoder; every nil is NULL whatever its type): a contact create binds about 140
    /// values. Any other type goes the generic way.
    static func plainData(_ value: any Encodable & Sendable) -> SQLiteData? {
        switch value {
        case let s as String: return .text(s)
        case let i as Int: return .integer(i)
        case let i as Int64: return .integer(Int(i))
        case let d as Double: return .float(d)
        case let b as Bool: return .integer(b ? 1 : 0)
        case let o as String?: return o.map { .text($0) } ?? .null
        case let o as Int?: return o.map { .integer($0) } ?? .null
        case let o as Int64?: return o.map { .integer(Int($0)) } ?? .null
        case let o as Double?: return o.map { .float($0) } ?? .null
        default: return nil
        }
    }

    private func idleConnection() -> SQLiteDirect? {
        let start = cursor.next()
        for offset in 0..<connections.count {
            let connection = connections[(start + offset) % connections.count]
            if connection.claimIfIdle() { return connection }
        }
        return nil
    }

    private func timed(_ statement: Statement, on connection: SQLiteDirect, _ onRow: (any SQLRow) -> Void) throws {
        let clock = ContinuousClock()
        let start = clock.now
        var rows = 0
        defer { costs.record(statement.sql, rows <= 1 ? clock.now - start : .seconds(1)) }
        try connection.run(statement.sql, statement.values) {
            rows += 1
            onRow($0)
        }
    }

    private final class Cursor: Sendable {
        private let value = Atomic<Int>(0)
        func next() -> Int { value.add(1, ordering: .relaxed).newValue }
    }

    /// How long each statement text took the last time it ran.
    private final class StatementCosts: Sendable {
        private let last = Mutex<[String: Duration]>([:])

        func isCheap(_ sql: String) -> Bool {
            last.withLock { $0[sql].map { $0 < SQLiteDirectDatabase.inlineLimit } ?? false }
        }

        func record(_ sql: String, _ took: Duration) {
            last.withLock { costs in
                // IN-lists of varying length make new texts; the map is bounded like the statement caches.
                if costs.count >= 4096, costs[sql] == nil { costs.removeAll(keepingCapacity: true) }
                costs[sql] = took
            }
        }
    }
}
