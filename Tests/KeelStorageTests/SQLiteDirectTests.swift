import Foundation
import KeelCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import KeelStorage
import SQLKit
import SQLiteKit
import SQLiteNIO
import XCTest

/// The SQLite writer speaks the sqlite3 C API itself; these pin down that it stores and returns what SQLiteNIO would.
final class SQLiteDirectTests: XCTestCase {
    func withWriter(_ body: (SQLiteDirectDatabase) async throws -> Void) async throws {
        let path = NSTemporaryDirectory() + "keel-writer-\(UUID().uuidString).sqlite"
        let writer = try SQLiteDirect(path: path)
        let db = SQLiteDirectDatabase(writer: writer, logger: .init(label: "t"), eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        do {
            try await body(db)
        } catch {
            writer.close()
            throw error
        }
        writer.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    override class func setUp() {
        super.setUp()
        // Some tests here open SQLiteNIO connections themselves; SQLite must first be set up the way Keel's own connections do.
        SQLiteDirect.prepareLibrary()
    }

    /// The page-cache wrapper skips cache truncations it knows cannot drop anything. A wrong skip would leave stale pages past
    /// the end of the database: so grow it with page splits, roll back growth, shrink it (auto-vacuum commits and VACUUM),
    /// grow it again, and require SQLite's own integrity check and every row to come out exactly right. (SQLite also drops
    /// such pages on its rollback and VACUUM paths, so even a wrapper that skipped every truncation passes this; what it
    /// proves is that the wrapper, engaged, leaves every path intact.)
    func testPageCacheWrapperKeepsTheDatabaseIntactThroughSplitsRollbacksAndShrinking() async throws {
        XCTAssertTrue(SQLiteDirect.pageCacheWrapped, "SQLite was started before Keel could set up its page cache")
        try await withWriter { db in
            let skippedBefore = SQLiteDirect.cacheTruncationsSkipped
            try await db.raw("PRAGMA cache_size=-4096").run()
            try await db.raw("PRAGMA auto_vacuum=FULL").run()
            try await db.raw("CREATE TABLE p (k TEXT PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL)").run()
            try await db.raw("CREATE INDEX p_v ON p (v)").run()
            var rng = SplitMix64(seed: 42)
            var expected: [String: Int] = [:]
            var serial = 0
            func insert(_ count: Int) async throws -> [String: Int] {
                var added: [String: Int] = [:]
                for _ in 0..<count {
                    serial += 1
                    // Random keys land all over both B-trees, so leaves split and balance reorders their pages.
                    let k = String(rng.next() % 1_000_000_000_000, radix: 36)
                    let v = String(repeating: String(k.reversed()), count: 12)
                    try await db.raw("INSERT OR REPLACE INTO p (k, v, n) VALUES (\(bind: k), \(bind: v), \(bind: serial))").run()
                    added[k] = serial
                }
                return added
            }
            for round in 0..<12 {
                try await db.raw("BEGIN").run()
                let added = try await insert(300)
                if round % 3 == 2 {
                    try await db.raw("ROLLBACK").run()
                } else {
                    try await db.raw("COMMIT").run()
                    expected.merge(added) { _, new in new }
                }
                if round % 4 == 3 {
                    try await db.raw("DELETE FROM p WHERE n % 2 = 0").run()
                    expected = expected.filter { $0.value % 2 != 0 }
                }
            }
            func pageCount() async throws -> Int {
                try await db.raw("PRAGMA page_count").first()?.decode(column: "page_count", as: Int.self) ?? 0
            }
            let grown = try await pageCount()
            try await db.raw("DELETE FROM p WHERE n % 5 <> 0").run()
            expected = expected.filter { $0.value % 5 == 0 }
            try await db.raw("VACUUM").run()
            let shrunk = try await pageCount()
            XCTAssertLessThan(shrunk, grown / 2, "the file shrank, so the cache was truncated below pages it held")
            try await db.raw("BEGIN").run()
            expected.merge(try await insert(1500)) { _, new in new }
            try await db.raw("COMMIT").run()

            let check = try await db.raw("PRAGMA integrity_check").all().map { try $0.decode(column: "integrity_check", as: String.self) }
            XCTAssertEqual(check, ["ok"])
            let rows = try await db.raw("SELECT k, v, n FROM p ORDER BY k").all()
            XCTAssertEqual(rows.count, expected.count)
            for row in rows {
                let k = try row.decode(column: "k", as: String.self)
                XCTAssertEqual(try row.decode(column: "n", as: Int.self), expected[k], k)
                XCTAssertEqual(try row.decode(column: "v", as: String.self), String(repeating: String(k.reversed()), count: 12))
            }
            XCTAssertGreaterThan(SQLiteDirect.cacheTruncationsSkipped, skippedBefore, "the wrapper found truncations to skip")
        }
    }

    /// A statement's result columns are kept between runs; after a schema change SQLite re-prepares it, and a `SELECT *` must
    /// then show the new columns, on the connection that changed the schema and on another one.
    func testCachedColumnsFollowASchemaChange() async throws {
        try await withWriter { db in
            try await db.raw("CREATE TABLE c (a INTEGER)").run()
            try await db.raw("INSERT INTO c (a) VALUES (1)").run()
            let before = try await db.raw("SELECT * FROM c").all()
            XCTAssertEqual(before.first?.allColumns, ["a"])
            let again = try await db.raw("SELECT * FROM c").first()
            XCTAssertEqual(again?.allColumns, ["a"], "the cached columns serve a second run")

            let file = try await db.raw("PRAGMA database_list").first()?.decode(column: "file", as: String.self)
            let other = SQLiteDirectDatabase(writer: try SQLiteDirect(path: try XCTUnwrap(file)), logger: .init(label: "t"), eventLoop: db.eventLoop)
            defer { other.connections.forEach { $0.close() } }
            let seen = try await other.raw("SELECT * FROM c").first()
            XCTAssertEqual(seen?.allColumns, ["a"])

            try await db.raw("ALTER TABLE c ADD COLUMN b INTEGER NOT NULL DEFAULT 7").run()
            let changed = try await db.raw("SELECT * FROM c").first()
            let after = try XCTUnwrap(changed)
            XCTAssertEqual(after.allColumns, ["a", "b"])
            XCTAssertEqual(try after.decode(column: "b", as: Int.self), 7)
            let changedElsewhere = try await other.raw("SELECT * FROM c").first()
            let elsewhere = try XCTUnwrap(changedElsewhere)
            XCTAssertEqual(elsewhere.allColumns, ["a", "b"])
            XCTAssertEqual(try elsewhere.decode(column: "b", as: Int.self), 7)
        }
    }

    func testValuesRoundTripWithTheirTypes() async throws {
        try await withWriter { db in
            try await db.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, i INTEGER, f REAL, b BLOB, n TEXT)").run()
            let blob = Data([0, 1, 2, 255])
            try await db.raw("""
                INSERT INTO t (id, s, i, f, b, n) VALUES (1, \(bind: "Zoë 👋 'quoted'"), \(bind: Int64.max), \(bind: 2.5), \(bind: blob), \(bind: String?.none))
                """).run()
            try await db.raw("INSERT INTO t (id, s, i, f, b, n) VALUES (2, \(bind: ""), \(bind: -1), \(bind: 0.0), \(bind: Data()), \(bind: "x"))").run()
            let rows = try await db.raw("SELECT * FROM t ORDER BY id").all()
            XCTAssertEqual(rows.count, 2)
            XCTAssertEqual(try rows[0].decode(column: "s", as: String.self), "Zoë 👋 'quoted'")
            XCTAssertEqual(try rows[0].decode(column: "i", as: Int64.self), Int64.max)
            XCTAssertEqual(try rows[0].decode(column: "f", as: Double.self), 2.5)
            XCTAssertEqual(try rows[0].decode(column: "b", as: Data.self), blob)
            XCTAssertTrue(try rows[0].decodeNil(column: "n"))
            XCTAssertEqual(try rows[0].decode(column: "n", as: String?.self), nil)
            // An empty string stays an empty string (not NULL).
            XCTAssertEqual(try rows[1].decode(column: "s", as: String.self), "")
            let empty = try await db.raw("SELECT COUNT(*) AS n FROM t WHERE s = '' AND s IS NOT NULL").first()
            XCTAssertEqual(try empty?.decode(column: "n", as: Int.self), 1)
            XCTAssertEqual(rows[0].allColumns, ["id", "s", "i", "f", "b", "n"])
            XCTAssertFalse(rows[0].contains(column: "missing"))
            XCTAssertThrowsError(try rows[0].decode(column: "missing", as: String.self))
        }
    }

    func testCachedStatementsAreReusedAndSurviveErrors() async throws {
        try await withWriter { db in
            try await db.raw("CREATE TABLE u (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").run()
            for i in 0..<50 {
                try await db.raw("INSERT INTO u (k, v) VALUES (\(bind: "k\(i)"), \(bind: i))").run()
            }
            // The same statement failing (duplicate key) must leave it usable for the next call.
            do {
                try await db.raw("INSERT INTO u (k, v) VALUES (\(bind: "k1"), \(bind: 1))").run()
                XCTFail("expected a unique violation")
            } catch let error as SQLiteDirectError {
                XCTAssertTrue(error.isUniqueViolation, "\(error)")
                XCTAssertTrue(StorageErrors.translate(error) is UniqueViolation)
            }
            try await db.raw("INSERT INTO u (k, v) VALUES (\(bind: "k50"), \(bind: 50))").run()
            // More distinct statements than the cache holds still run.
            for i in 0..<600 {
                let row = try await db.raw("SELECT v + \(unsafeRaw: String(i)) AS w FROM u WHERE k = \(bind: "k2")").first()
                XCTAssertEqual(try row?.decode(column: "w", as: Int.self), 2 + i)
            }
            let count = try await db.raw("SELECT COUNT(*) AS n FROM u").first()
            XCTAssertEqual(try count?.decode(column: "n", as: Int.self), 51)
            // Syntax errors are reported, not crashes.
            do {
                try await db.raw("SELEKT 1").run()
                XCTFail("expected a syntax error")
            } catch let error as SQLiteDirectError {
                XCTAssertTrue(error.message.contains("syntax"), error.message)
            }
        }
    }

    /// Texts longer than the cache's limit (bulk loads with literal values) are prepared for one run: they run, return
    /// their rows, report their errors, and are not kept.
    func testLongStatementsRunOnceWithoutBeingCached() async throws {
        let path = NSTemporaryDirectory() + "keel-long-\(UUID().uuidString).sqlite"
        let writer = try SQLiteDirect(path: path)
        defer {
            writer.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let db = SQLiteDirectDatabase(writer: writer, logger: .init(label: "t"), eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        try await db.raw("CREATE TABLE t (i INTEGER NOT NULL, s TEXT)").run()
        let samples = ["plain", "it's", "''", "'quoted' ünïcödé 😀 '", "", "a\nb"]
        var literals: [String] = []
        for i in 0..<600 {
            let text = samples[i % samples.count] + String(repeating: "x", count: i % 7)
            literals.append("(\(i), \(try XCTUnwrap(PlainStatement.Value.quoted(text))))")
        }
        let insert = "INSERT INTO t (i, s) VALUES " + literals.joined(separator: ", ")
        XCTAssertGreaterThan(insert.utf8.count, SQLiteDirect.cachedTextLimit)
        let before = writer.cachedStatementCount
        try await db.raw(SQLQueryString(insert)).run()
        let select = "SELECT i, s FROM t WHERE i IN (" + (0..<3000).map(String.init).joined(separator: ", ") + ") ORDER BY i"
        XCTAssertGreaterThan(select.utf8.count, SQLiteDirect.cachedTextLimit)
        for _ in 0..<2 {
            let rows = try await db.raw(SQLQueryString(select)).all()
            XCTAssertEqual(rows.count, 600)
            for (i, row) in rows.enumerated() {
                XCTAssertEqual(try row.decode(column: "i", as: Int.self), i)
                XCTAssertEqual(try row.decode(column: "s", as: String.self), samples[i % samples.count] + String(repeating: "x", count: i % 7))
            }
        }
        do {
            try await db.raw(SQLQueryString(insert.replacingOccurrences(of: "INSERT INTO", with: "INSERT INTOO"))).run()
            XCTFail("expected a syntax error")
        } catch let error as SQLiteDirectError {
            XCTAssertTrue(error.message.contains("syntax"), error.message)
        }
        XCTAssertEqual(writer.cachedStatementCount, before, "long texts are not kept prepared")
        // Short statements still are.
        _ = try await db.raw("SELECT COUNT(*) AS n FROM t").first()
        XCTAssertEqual(writer.cachedStatementCount, before + 1)
        XCTAssertNil(PlainStatement.Value.quoted("nul\u{0}inside"), "a NUL character cannot be a literal")
    }

    /// The fast decode paths (String, Int, Int64, Double and their optionals) agree with the generic decoder, and values of
    /// another storage class still go the generic way (or fail the same way).
    func testFastDecodingAgreesWithTheGenericDecoder() async throws {
        try await withWriter { db in
            let row = try await db.raw("SELECT 'a' AS s, 42 AS i, 1.5 AS f, NULL AS n, '7' AS digits, 1 AS flag").first()
            guard let row else { return XCTFail("no row") }
            XCTAssertEqual(try row.decode(column: "s", as: String.self), "a")
            XCTAssertEqual(try row.decode(column: "s", as: String?.self), "a")
            XCTAssertEqual(try row.decode(column: "i", as: Int.self), 42)
            XCTAssertEqual(try row.decode(column: "i", as: Int?.self), 42)
            XCTAssertEqual(try row.decode(column: "i", as: Int64.self), 42)
            XCTAssertEqual(try row.decode(column: "i", as: Int64?.self), 42)
            XCTAssertEqual(try row.decode(column: "i", as: Double.self), 42, "an integer read as a double, generically")
            XCTAssertEqual(try row.decode(column: "f", as: Double.self), 1.5)
            XCTAssertEqual(try row.decode(column: "f", as: Double?.self), 1.5)
            XCTAssertNil(try row.decode(column: "n", as: String?.self))
            XCTAssertNil(try row.decode(column: "n", as: Int?.self))
            XCTAssertNil(try row.decode(column: "n", as: Int64?.self))
            XCTAssertNil(try row.decode(column: "n", as: Double?.self))
            XCTAssertEqual(try row.decode(column: "flag", as: Bool.self), true)
            XCTAssertThrowsError(try row.decode(column: "n", as: String.self), "NULL is not a String")
            XCTAssertThrowsError(try row.decode(column: "s", as: Int.self), "text is not an Int")
        }
    }

    /// The reader pool spreads concurrent statements over its connections and each sees every committed write.
    /// The bind fast path converts each type exactly as SQLiteKit's encoder does, nils of any type included.
    func testPlainBindsAgreeWithTheGenericEncoder() throws {
        let generic = SQLiteDataEncoder()
        let values: [any Encodable & Sendable] = ["", "Zoë 👋", 0, -7, Int.max, Int64.min, 2.5, -0.0, true, false, String?.none, String?("x"),
                                                 Int?.none, Int?(3), Int64?.none, Int64?(4), Double?.none, Double?(1.25)]
        for value in values {
            XCTAssertEqual(SQLiteDirectDatabase.plainData(value), try generic.encode(value), "\(value)")
        }
        // Anything else is left to the generic encoder.
        XCTAssertNil(SQLiteDirectDatabase.plainData(Data([1, 2])))
        XCTAssertNil(SQLiteDirectDatabase.plainData(Date(timeIntervalSince1970: 0)))
        XCTAssertNil(SQLiteDirectDatabase.plainData(["a": 1]))
    }

    /// A PlainStatement runs as written on the direct connection, and serializes to the same text and binds through SQLKit
    /// (how PostgreSQL and SQLiteNIO receive it).
    func testPlainStatementsRunAndSerializeLikeInterpolations() async throws {
        var statement = PlainStatement("INSERT INTO p (a, b, c) VALUES ", reservingValues: 6)
        statement.row([.text("it's"), .int(7), .int(nil)])
        statement.append(", ")
        statement.row([.text(nil), .int(-1), .int(3)])
        XCTAssertEqual(statement.sql, "INSERT INTO p (a, b, c) VALUES (?, ?, ?), (?, ?, ?)")
        XCTAssertEqual(statement.values, [.text("it's"), .int(7), .int(nil), .text(nil), .int(-1), .int(3)])

        struct Numbered: SQLDatabase {
            var logger: Logger { Logger(label: "t") }
            var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
            var dialect: any SQLDialect { NumberedDialect() }
            func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
                eventLoop.makeSucceededVoidFuture()
            }
        }
        let serialized = Numbered().serialize(statement)
        XCTAssertEqual(serialized.sql, "INSERT INTO p (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6)")
        XCTAssertEqual(serialized.binds.count, 6)
        XCTAssertEqual(serialized.binds[0] as? String?, "it's")
        XCTAssertEqual(serialized.binds[1] as? Int64?, 7)
        // A NULL keeps its type (PostgreSQL rejects a text NULL for a BIGINT column).
        XCTAssertTrue(type(of: serialized.binds[2]) == Int64?.self)
        XCTAssertTrue(type(of: serialized.binds[3]) == String?.self)
        XCTAssertEqual(serialized.binds[5] as? Int64?, 3)

        try await withWriter { db in
            try await db.raw("CREATE TABLE p (a TEXT, b INTEGER, c INTEGER)").run()
            try await db.execute(sql: statement) { _ in }
            let rows = try await db.raw("SELECT a, b, c FROM p ORDER BY rowid").all()
            XCTAssertEqual(rows.count, 2)
            XCTAssertEqual(try rows[0].decode(column: "a", as: String?.self), "it's")
            XCTAssertEqual(try rows[0].decode(column: "b", as: Int?.self), 7)
            XCTAssertNil(try rows[0].decode(column: "c", as: Int?.self))
            XCTAssertNil(try rows[1].decode(column: "a", as: String?.self))
            XCTAssertEqual(try rows[1].decode(column: "b", as: Int?.self), -1)
            XCTAssertEqual(try rows[1].decode(column: "c", as: Int?.self), 3)
        }
    }

    func testReaderPoolRunsConcurrentReadsAndSeesCommits() async throws {
        let path = NSTemporaryDirectory() + "keel-readers-\(UUID().uuidString).sqlite"
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let writer = SQLiteDirectDatabase(writer: try SQLiteDirect(path: path), logger: .init(label: "t"), eventLoop: loop)
        let threads = NIOThreadPool(numberOfThreads: 3)
        threads.start()
        let readers = SQLiteDirectDatabase(connections: try (0..<3).map { _ in try SQLiteDirect(path: path) }, threads: threads,
                                           logger: .init(label: "t"), eventLoop: loop)
        defer {
            writer.connections.forEach { $0.close() }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await writer.raw("PRAGMA journal_mode=WAL").run()
        try await writer.raw("CREATE TABLE r (k INTEGER PRIMARY KEY)").run()
        for round in 1...5 {
            try await writer.raw("INSERT INTO r (k) VALUES (\(bind: round))").run()
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await readers.raw("SELECT COUNT(*) AS n FROM r").first()?.decode(column: "n", as: Int.self) ?? -1 }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            XCTAssertEqual(counts, Array(repeating: round, count: 12))
        }
        // A statement seen once and found quick runs inline from then on; a slow one stays on the pool's threads.
        let quick = "SELECT COUNT(*) AS n FROM r"
        XCTAssertTrue(readers.runsInline(quick))
        XCTAssertFalse(readers.runsInline("SELECT 1 AS never_run"))
        let several = "SELECT k FROM r ORDER BY k"
        let keys = try await readers.raw(SQLQueryString(several)).all().map { try $0.decode(column: "k", as: Int.self) }
        XCTAssertEqual(keys, [1, 2, 3, 4, 5])
        XCTAssertFalse(readers.runsInline(several), "lists stay on the readers' threads, however quick")
        let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT MAX(x) AS m FROM c"
        let top = try await readers.raw(SQLQueryString(slow)).first()?.decode(column: "m", as: Int.self)
        XCTAssertEqual(top, 300000)
        XCTAssertFalse(readers.runsInline(slow))
        // The EventLoopFuture flavour runs on the pool too.
        let seen = NIOLockedValueBox<[Int]>([])
        let future: EventLoopFuture<Void> = readers.execute(sql: SQLRaw("SELECT COUNT(*) AS n FROM r")) { row in
            if let n = try? row.decode(column: "n", as: Int.self) { seen.withLockedValue { $0.append(n) } }
        }
        try await future.get()
        XCTAssertEqual(seen.withLockedValue { $0 }, [5])
        await readers.close()
    }
}

/// PostgreSQL's placeholder style, without a PostgreSQL connection.
private struct NumberedDialect: SQLDialect {
    var name: String { "numbered" }
    var identifierQuote: any SQLExpression { SQLRaw("\"") }
    var literalStringQuote: any SQLExpression { SQLRaw("'") }
    var supportsAutoIncrement: Bool { true }
    var autoIncrementClause: any SQLExpression { SQLRaw("") }
    func bindPlaceholder(at position: Int) -> any SQLExpression { SQLRaw("$\(position)") }
    func literalBoolean(_ value: Bool) -> any SQLExpression { SQLRaw(value ? "true" : "false") }
}
