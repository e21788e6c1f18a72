import CKeelSQLite
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// The SQLite writer connection, driven through the sqlite3 C API on the calling thread with cached prepared statements.
///
/// SQLiteNIO runs each statement on its thread pool and resumes the caller afterwards, two thread switches per statement,
/// and prepares the statement anew each time. A contact create is about fifteen statements behind the single write lock,
/// so those switches, not SQLite, set the write throughput (a third of the server's time was context switching). The
/// writer is only ever used by one task at a time (KeelDatabase's write lock), and each statement takes microseconds, so
/// running them inline is both safe and cheaper. Readers stay on SQLiteNIO: they run in parallel, and a long list query
/// belongs on its thread pool.
final class SQLiteWriter: @unchecked Sendable {
    private let lock = NIOLock()
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    private static let initialized = NIOLockedValueBox(false)
    /// Distinct statement texts kept prepared; IN-lists of varying length make new texts, so the cache is bounded.
    private static let cacheLimit = 512

    init(path: String) throws {
        Self.initialized.withLockedValue { done in
            if !done {
                _ = sqlite_nio_sqlite3_initialize()
                done = true
            }
        }
        var db: OpaquePointer?
        let flags = KEEL_SQLITE_OPEN_READWRITE | KEEL_SQLITE_OPEN_CREATE | KEEL_SQLITE_OPEN_NOMUTEX
        let rc = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
        guard rc == KEEL_SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { _ = sqlite_nio_sqlite3_close_v2(db) }
            throw SQLiteWriterError(code: rc, message: "cannot open \(path): \(message)")
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
            if let handle { _ = sqlite_nio_sqlite3_close_v2(handle) }
            handle = nil
        }
    }

    /// Runs one statement, calling `onRow` for each result row.
    func run(_ sql: String, _ binds: [SQLiteData], _ onRow: (SQLiteWriterRow) -> Void) throws {
        try lock.withLock {
            guard let db = handle else { throw SQLiteWriterError(code: 21, message: "the connection is closed") }
            let statement = try prepared(sql, db: db)
            defer {
                _ = sqlite_nio_sqlite3_reset(statement)
                _ = sqlite_nio_sqlite3_clear_bindings(statement)
            }
            for (offset, value) in binds.enumerated() {
                let rc = Self.bind(value, at: Int32(offset + 1), to: statement)
                guard rc == KEEL_SQLITE_OK else { throw error(rc, db: db) }
            }
            var columns: SQLiteWriterRow.Columns?
            while true {
                let rc = sqlite_nio_sqlite3_step(statement)
                if rc == KEEL_SQLITE_DONE { return }
                guard rc == KEEL_SQLITE_ROW else { throw error(rc, db: db) }
                let names = columns ?? Self.columns(of: statement)
                columns = names
                onRow(SQLiteWriterRow(columns: names, values: (0..<Int32(names.names.count)).map { Self.value(statement, $0) }))
            }
        }
    }

    private func prepared(_ sql: String, db: OpaquePointer) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(KEEL_SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == KEEL_SQLITE_OK, let statement else { throw error(rc, db: db) }
        if statements.count >= Self.cacheLimit {
            for old in statements.values { _ = sqlite_nio_sqlite3_finalize(old) }
            statements.removeAll(keepingCapacity: true)
        }
        statements[sql] = statement
        return statement
    }

    private func error(_ rc: Int32, db: OpaquePointer) -> SQLiteWriterError {
        SQLiteWriterError(code: sqlite_nio_sqlite3_extended_errcode(db), message: String(cString: sqlite_nio_sqlite3_errmsg(db)))
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

    private static func columns(of statement: OpaquePointer) -> SQLiteWriterRow.Columns {
        let count = sqlite_nio_sqlite3_column_count(statement)
        var names: [String] = []
        var index: [String: Int] = [:]
        for i in 0..<count {
            let name = sqlite_nio_sqlite3_column_name(statement, i).map { String(cString: $0) } ?? ""
            names.append(name)
            if index[name] == nil { index[name] = Int(i) }
        }
        return SQLiteWriterRow.Columns(names: names, index: index)
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
struct SQLiteWriterError: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    /// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
    var isUniqueViolation: Bool { code == 2067 || code == 1555 }
    var description: String { "SQLite error \(code): \(message)" }
}

/// One result row of the writer, decoded the way SQLiteKit decodes SQLiteNIO's rows.
struct SQLiteWriterRow: SQLRow {
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
            throw DecodingError.keyNotFound(SQLiteWriterColumnKey(column), .init(codingPath: [], debugDescription: "no column \(column)"))
        }
        return try SQLiteDataDecoder().decode(D.self, from: values[i])
    }
}

private struct SQLiteWriterColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// SQLKit's view of the writer.
struct SQLiteWriterDatabase: SQLDatabase {
    let writer: SQLiteWriter
    let logger: Logger
    let eventLoop: any EventLoop
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, rawBinds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        try writer.run(sql, try rawBinds.map { try encoder.encode($0) }) { onRow($0) }
    }
}
