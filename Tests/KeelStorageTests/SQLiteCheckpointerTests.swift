import Foundation
import NIOPosix
@testable import KeelStorage
import SQLKit
import SQLiteNIO
import Synchronization
import XCTest

/// Under a steady stream of writes, the background rounds must bring the WAL back to its start without the writer's own
/// automatic checkpoint (switched off here), and lose nothing on the way.
final class SQLiteCheckpointerTests: XCTestCase {
    override class func setUp() {
        super.setUp()
        SQLiteDirect.prepareLibrary()
    }

    func testRoundsRestartTheWALWhileWritesStreamIn() async throws {
        let path = NSTemporaryDirectory() + "keel-checkpoint-\(UUID().uuidString).sqlite"
        let writer = SQLiteDirectDatabase(writer: try SQLiteDirect(path: path), logger: .init(label: "t"),
                                          eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        defer {
            writer.connections.forEach { $0.close() }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA wal_autocheckpoint=0"] {
            try await writer.raw(SQLQueryString(pragma)).run()
        }
        try await writer.raw("CREATE TABLE w (k INTEGER PRIMARY KEY, v TEXT NOT NULL)").run()
        let commits = SQLiteGroupCommit(writer: writer)
        let pauses = Atomic<Int>(0)
        let checkpointer = try await SQLiteCheckpointer(path: path, logger: .init(label: "t"), interval: .seconds(3600)) { body in
            try await commits.exclusive { _ in
                pauses.add(1, ordering: .relaxed)
                return try await body()
            }
        }

        // Each write adds a few pages (a 6 KB value overflows a page), so the WAL grows quickly.
        let written = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let stream = Task {
            var k = 0
            while !stop.load(ordering: .relaxed) {
                k += 1
                let key = k
                try await commits.transaction { db in
                    try await db.raw("INSERT INTO w (k, v) VALUES (\(bind: key), \(bind: String(repeating: "v", count: 6000)))").run()
                }
                written.store(key, ordering: .relaxed)
            }
            return k
        }

        let short = try await checkpointer.round()
        XCTAssertNil(short.paused, "a short WAL is left to start over by itself")
        while written.load(ordering: .relaxed) < 800 { try await Task.sleep(for: .milliseconds(5)) }
        let long = try await checkpointer.round()
        XCTAssertGreaterThanOrEqual(long.first.walFrames, SQLiteCheckpointer.restartThreshold)
        let paused = try XCTUnwrap(long.paused, "a long WAL is finished with the writer paused")
        XCTAssertEqual(paused.copiedFrames, paused.walFrames, "with the writer paused, every frame is copied")
        XCTAssertEqual(pauses.load(ordering: .relaxed), 1)

        // The next write starts the WAL over, so from then on it holds only what came after the round.
        let after = written.load(ordering: .relaxed)
        while written.load(ordering: .relaxed) < after + 20 { try await Task.sleep(for: .milliseconds(2)) }
        stop.store(true, ordering: .relaxed)
        let total = try await stream.value
        let now = try await checkpointer.round()
        XCTAssertLessThan(now.first.walFrames, paused.walFrames, "the WAL started over after the paused round")

        let reader = try await SQLiteConnection.open(storage: .file(path: path))
        let count = try await reader.query("SELECT COUNT(*) AS n, MAX(k) AS m FROM w").first
        XCTAssertEqual(count?.column("n")?.integer, total, "every acknowledged write is there")
        XCTAssertEqual(count?.column("m")?.integer, total)
        let check = try await reader.query("PRAGMA integrity_check").first?.column("integrity_check")?.string
        XCTAssertEqual(check, "ok")
        try await reader.close()
        await checkpointer.stop()
    }
}
