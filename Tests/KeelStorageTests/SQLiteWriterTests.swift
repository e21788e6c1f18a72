import Foundation
import KeelCore
import Logging
import NIOPosix
@testable import KeelStorage
import SQLKit
import SQLiteNIO
import XCTest

/// The SQLite writer speaks the sqlite3 C API itself; these pin down that it stores and returns what SQLiteNIO would.
final class SQLiteWriterTests: XCTestCase {
    func withWriter(_ body: (SQLiteWriterDatabase) async throws -> Void) async throws {
        let path = NSTemporaryDirectory() + "keel-writer-\(UUID().uuidString).sqlite"
        let writer = try SQLiteWriter(path: path)
        let db = SQLiteWriterDatabase(writer: writer, logger: .init(label: "t"), eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        do {
            try await body(db)
        } catch {
            writer.close()
            throw error
        }
        writer.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
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
            } catch let error as SQLiteWriterError {
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
            } catch let error as SQLiteWriterError {
                XCTAssertTrue(error.message.contains("syntax"), error.message)
            }
        }
    }
}
