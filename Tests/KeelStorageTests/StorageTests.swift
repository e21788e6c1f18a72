import Foundation
import KeelCore
import KeelStorage
import Logging
import SQLKit
import XCTest

final class StorageTests: XCTestCase {
    func withDatabase(_ body: (KeelDatabase) async throws -> Void) async throws {
        let config: DatabaseConfig
        var schema: String?
        if let url = ProcessInfo.processInfo.environment["KEEL_TEST_DATABASE_URL"], url.hasPrefix("postgres") {
            let name = "s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let admin = try await KeelDatabase.open(.postgres(url: url, poolSize: 2, searchPath: nil), logger: Logger(label: "t"))
            try await admin.withSQL { try await $0.raw("CREATE SCHEMA \(ident: String(name))").run() }
            await admin.shutdown()
            schema = String(name)
            config = .postgres(url: url, poolSize: 4, searchPath: String(name))
        } else {
            config = .sqlite(path: NSTemporaryDirectory() + "keel-storage-\(UUID().uuidString).sqlite", readers: 2)
        }
        let db = try await KeelDatabase.open(config, logger: Logger(label: "t"))
        do {
            try await body(db)
        } catch {
            await db.shutdown()
            throw error
        }
        await db.shutdown()
        if let schema, let url = ProcessInfo.processInfo.environment["KEEL_TEST_DATABASE_URL"] {
            let admin = try await KeelDatabase.open(.postgres(url: url, poolSize: 2, searchPath: nil), logger: Logger(label: "t"))
            try await admin.withSQL { try await $0.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
            await admin.shutdown()
        }
        if case .sqlite(let path, _) = config {
            for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
        }
    }

    func testMigrationsApplyOnceAndAreRecorded() async throws {
        try await withDatabase { db in
            let migrator = Migrator(database: db)
            let awaited1 = try await migrator.pending()
            XCTAssertEqual(awaited1, Migrations.all.map(\.version))
            let first = try await migrator.migrate(logger: Logger(label: "t"))
            XCTAssertEqual(first, Migrations.all.map(\.version))
            let awaited2 = try await migrator.migrate(logger: Logger(label: "t"))
            XCTAssertEqual(awaited2, [])
            let awaited3 = try await migrator.pending()
            XCTAssertEqual(awaited3, [])
        }
    }

    /// Migration 6 fills `stage_totals` from the deals already stored, then its triggers keep it; moves in opposite directions
    /// at once must neither deadlock (PostgreSQL takes the rows in key order) nor lose a count.
    func testStageTotalsAreBackfilledAndSurviveConcurrentOppositeMoves() async throws {
        try await withDatabase { db in
            let log = Logger(label: "t")
            try await Migrator(database: db, migrations: Migrations.all.filter { $0.version < 6 }).migrate(logger: log)
            func insertDeal(_ id: String, stage: String, value: Int?, visibility: String = "workspace", owner: String? = nil) async throws {
                try await db.withSQL(write: true) { sql in
                    try await sql.raw("""
                        INSERT INTO deals (workspace_id, id, name, name_lower, pipeline_id, stage_id, status, currency, value, visibility, owner_id,
                                           created_at, updated_at, version)
                        VALUES ('w1', \(bind: id), 'd', 'd', 'p1', \(bind: stage), 'open', 'EUR', \(bind: value), \(bind: visibility), \(bind: owner), 1, 1, 1)
                        """).run()
                }
            }
            try await insertDeal("d1", stage: "s1", value: 100)
            try await insertDeal("d2", stage: "s1", value: nil)
            try await insertDeal("d3", stage: "s2", value: 7, visibility: "private", owner: "u1")
            try await Migrator(database: db).migrate(logger: log)

            func totals() async throws -> [String: [Int]] {
                try await db.withSQL(write: false) { sql in
                    var out: [String: [Int]] = [:]
                    for row in try await sql.raw("SELECT stage_id, private_owner, deal_count, value_sum FROM stage_totals WHERE deal_count <> 0").all() {
                        let key = try row.decode(column: "stage_id", as: String.self) + "/" + row.decode(column: "private_owner", as: String.self)
                        out[key] = [try row.decode(column: "deal_count", as: Int.self), try row.decode(column: "value_sum", as: Int.self)]
                    }
                    return out
                }
            }
            let backfilled = try await totals()
            XCTAssertEqual(backfilled, ["s1/": [2, 100], "s2/u1": [1, 7]])

            for i in 0..<20 { try await insertDeal("m\(i)", stage: i % 2 == 0 ? "s1" : "s2", value: 10) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        for round in 0..<5 {
                            let to = (i + round) % 2 == 0 ? "s2" : "s1"
                            try await db.transaction { sql in
                                try await sql.raw("UPDATE deals SET stage_id = \(bind: to) WHERE workspace_id = 'w1' AND id = \(bind: "m\(i)")").run()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Each deal made five moves, ending one step away from where it began.
            let moved = try await totals()
            XCTAssertEqual(moved["s1/"], [2 + 10, 100 + 100])
            XCTAssertEqual(moved["s2/"], [10, 100])
            XCTAssertEqual(moved["s2/u1"], [1, 7])

            try await db.transaction { sql in
                try await sql.raw("UPDATE deals SET deleted_at = 5 WHERE id = 'd1'").run()
                try await sql.raw("UPDATE deals SET visibility = 'workspace' WHERE id = 'd3'").run()
                try await sql.raw("DELETE FROM deals WHERE id = 'm0'").run()
            }
            let after = try await totals()
            XCTAssertEqual(after["s1/"], [12 - 1, 200 - 100], "the trashed deal leaves its stage")
            XCTAssertEqual(after["s2/"], [10 - 1 + 1, 100 - 10 + 7], "m0 (now in s2) deleted, d3 shared")
            XCTAssertNil(after["s2/u1"])
        }
    }

    func testTransactionRollsBackEverythingOnError() async throws {
        try await withDatabase { db in
            try await Migrator(database: db).migrate(logger: Logger(label: "t"))
            struct Boom: Error {}
            let ws = WorkspaceID.generate()
            do {
                try await db.write { tx in
                    try await tx.audit.append(AuditEntry(workspaceID: ws, actor: .system, action: "x", objectType: nil, objectID: nil, createdAt: Date()))
                    try await tx.outbox.append(OutboxEvent(workspaceID: ws, type: "contact.created", occurredAt: Date(), actor: .system,
                                                           objectType: "contact", objectID: "con_x", payload: .object([:])))
                    throw Boom()
                }
                XCTFail("expected an error")
            } catch is Boom {}
            let audits = try await db.read { try await $0.audit.list(ws, filter: AuditFilter(), before: nil, limit: 10) }
            XCTAssertTrue(audits.isEmpty)
            let awaited4 = try await db.read { try await $0.outbox.count(ws) }
            XCTAssertEqual(awaited4, 0)
            try await db.write { tx in
                try await tx.outbox.append(OutboxEvent(workspaceID: ws, type: "contact.created", occurredAt: Date(), actor: .system,
                                                       objectType: "contact", objectID: "con_x", payload: .object(["a": .number("1")])))
            }
            let awaited5 = try await db.read { try await $0.outbox.count(ws) }
            XCTAssertEqual(awaited5, 1)
        }
    }

    func testAtomicallyJoinsReadsAndWritesAndNestedWritesAreSavepoints() async throws {
        try await withDatabase { db in
            try await Migrator(database: db).migrate(logger: Logger(label: "t"))
            struct Boom: Error {}
            let ws = WorkspaceID.generate()
            @Sendable func event(_ n: Int) -> OutboxEvent {
                OutboxEvent(workspaceID: ws, type: "contact.created", occurredAt: Date(), actor: .system, objectType: "contact",
                            objectID: "con_\(n)", payload: .object([:]))
            }
            // A failing nested write undoes only itself; reads inside see the transaction's own writes; all commit together.
            let seenInside = try await db.atomically { _ in
                try await db.write { try await $0.outbox.append(event(1)) }
                do {
                    try await db.write { tx in
                        try await tx.outbox.append(event(2))
                        throw Boom()
                    }
                    XCTFail("expected an error")
                } catch is Boom {}
                try await db.write { try await $0.outbox.append(event(3)) }
                return try await db.read { try await $0.outbox.count(ws) }
            }
            XCTAssertEqual(seenInside, 2)
            let afterCommit = try await db.read { try await $0.outbox.count(ws) }
            XCTAssertEqual(afterCommit, 2)
            // When the outer body fails, writes that succeeded inside it are rolled back as well.
            do {
                try await db.atomically { session in
                    try await session.outbox.append(event(4))
                    try await db.write { try await $0.outbox.append(event(5)) }
                    throw Boom()
                }
                XCTFail("expected an error")
            } catch is Boom {}
            let afterRollback = try await db.read { try await $0.outbox.count(ws) }
            XCTAssertEqual(afterRollback, 2)
        }
    }

    func testConcurrentWritesEachCommitOrFailAloneAndAreVisibleWhenTheyReturn() async throws {
        try await withDatabase { db in
            try await Migrator(database: db).migrate(logger: Logger(label: "t"))
            let now = Date()
            // 60 concurrent writers (SQLite groups them into shared commits); every fifth reuses a key and must fail alone.
            let reasons = Reasons()
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for i in 0..<60 {
                    group.addTask {
                        let key = i % 5 == 4 ? "k\(i - 1)" : "k\(i)"
                        let record = IdempotencyRecord(scope: "s", key: key, fingerprint: "f", state: .done, status: 201, headers: [:],
                                                       body: nil, createdAt: now, expiresAt: now.addingTimeInterval(3600))
                        do {
                            try await Task.sleep(for: .milliseconds(i % 7))
                            try await db.write { tx in
                                try await tx.audit.append(AuditEntry(workspaceID: WorkspaceID.generate(), actor: .system, action: "w\(i)",
                                                                     objectType: nil, objectID: nil, createdAt: now))
                                if try await tx.idempotency.claim(record) != nil { throw UniqueViolation(constraint: key) }
                            }
                        } catch {
                            if !(error is UniqueViolation) { reasons.add("write \(i): \(String(reflecting: error))") }
                            return (i, false)
                        }
                        // Acknowledged means committed: a fresh reader sees it at once.
                        let seen: SQLRow?
                        do {
                            seen = try await db.withSQL(write: false) { sql in
                                try await sql.raw("SELECT key FROM idempotency_keys WHERE scope = 's' AND key = \(bind: key)").first()
                            }
                        } catch { reasons.add("read \(i): \(String(reflecting: error))"); seen = nil }
                        if seen == nil { reasons.add("committed \(i) not seen by a fresh reader") }
                        return (i, seen != nil)
                    }
                }
                var all: [Int: Bool] = [:]
                for await (i, ok) in group { all[i] = ok }
                return all
            }
            let succeeded = outcomes.filter(\.value).map(\.key).sorted()
            XCTAssertEqual(outcomes.count, 60)
            // Of two writers of one key, exactly one commits (whichever came first); every other key commits.
            let keys = succeeded.map { $0 % 5 == 4 ? $0 - 1 : $0 }
            XCTAssertEqual(keys.count, 48, "the 12 second claims of a key fail; other failures: \(reasons.all)")
            XCTAssertEqual(Set(keys).count, 48, "and never both writers of one key")
            let audits = try await db.withSQL(write: false) { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM audit_logs WHERE action LIKE 'w%'").first()?.decode(column: "n", as: Int.self)
            }
            XCTAssertEqual(audits, 48, "a failed write's own audit row is rolled back, the others are kept")
        }
    }

    /// On SQLite one task runs the bodies of a whole group of writes; each caller must still get its own result or its own
    /// error, and raw use of the writer (migrations, bulk loads) must wait for a group's commit and never land inside one.
    func testEachWriteGetsItsOwnResultWhicheverTaskRunsItAndRawUseWaitsItsTurn() async throws {
        try await withDatabase { db in
            try await db.withSQL { try await $0.raw("CREATE TABLE probe (i BIGINT PRIMARY KEY, way TEXT NOT NULL)").run() }
            struct Own: Error { let i: Int }
            let reasons = Reasons()
            let succeeded = await withTaskGroup(of: Int?.self) { group in
                for i in 0..<90 {
                    group.addTask {
                        do {
                            try await Task.sleep(for: .microseconds(37 * (i % 11)))
                            if i % 6 == 5 {
                                try await db.withSQL(write: true) { sql in
                                    // Raw use runs outside any transaction: its row is committed when the statement ends.
                                    try await sql.raw("INSERT INTO probe (i, way) VALUES (\(bind: i), 'raw')").run()
                                }
                                return i
                            }
                            let answer: String = try await db.transaction { sql in
                                try await sql.raw("INSERT INTO probe (i, way) VALUES (\(bind: i), 'tx')").run()
                                if i % 10 == 3 { throw Own(i: i) }
                                let n = try await sql.raw("SELECT way FROM probe WHERE i = \(bind: i)").first()?.decode(column: "way", as: String.self)
                                return "\(i):\(n ?? "missing")"
                            }
                            if answer != "\(i):tx" { reasons.add("write \(i) got \(answer)") }
                            return i
                        } catch let own as Own {
                            if own.i != i { reasons.add("write \(i) got the error of write \(own.i)") }
                            return nil
                        } catch {
                            reasons.add("write \(i): \(String(reflecting: error))")
                            return nil
                        }
                    }
                }
                var all: [Int] = []
                for await i in group { if let i { all.append(i) } }
                return all.sorted()
            }
            XCTAssertEqual(reasons.all, [])
            let expected = (0..<90).filter { $0 % 6 == 5 || $0 % 10 != 3 }
            XCTAssertEqual(succeeded, expected)
            let stored = try await db.withSQL(write: false) { sql in
                try await sql.raw("SELECT i FROM probe ORDER BY i").all().map { try $0.decode(column: "i", as: Int.self) }
            }
            XCTAssertEqual(stored, expected, "a failed write's row is rolled back alone")
        }
    }

    /// What went wrong in concurrent writers, for the failure message.
    final class Reasons: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }

    func testIdempotencyClaimStates() async throws {
        try await withDatabase { db in
            try await Migrator(database: db).migrate(logger: Logger(label: "t"))
            let now = Date()
            let record = IdempotencyRecord(scope: "s", key: "k", fingerprint: "f1", state: .inFlight, status: nil, headers: [:], body: nil,
                                           createdAt: now, expiresAt: now.addingTimeInterval(86_400))
            let awaited6 = try await db.write { try await $0.idempotency.claim(record) }
            XCTAssertNil(awaited6)
            let second = try await db.write { try await $0.idempotency.claim(record) }
            XCTAssertEqual(second?.state, .inFlight)
            try await db.write { try await $0.idempotency.complete(scope: "s", key: "k", status: 201, headers: ["Location": "/x"], body: Data("{}".utf8)) }
            let third = try await db.write { try await $0.idempotency.claim(record) }
            XCTAssertEqual(third?.state, .done)
            XCTAssertEqual(third?.status, 201)
            XCTAssertEqual(third?.headers["Location"], "/x")
            // After expiry the key can be claimed again.
            var later = record
            later.createdAt = now.addingTimeInterval(86_401)
            later.expiresAt = later.createdAt.addingTimeInterval(86_400)
            let laterRecord = later
            let awaited7 = try await db.write { try await $0.idempotency.claim(laterRecord) }
            XCTAssertNil(awaited7)
        }
    }

    /// Bulk loads write literal values, and fall back to bound values for a chunk holding a value that cannot be a literal
    /// (a NUL character, which only SQLite stores); both store exactly what was given, quotes and NULLs included.
    func testBulkInsertStoresLiteralAndBoundChunksExactly() async throws {
        try await withDatabase { db in
            try await Migrator(database: db).migrate(logger: Logger(label: "t"))
            let scope = RecordScope(schema: ContactBehavior.schema, workspaceID: WorkspaceID.generate(), currency: "USD")
            let now = Date(timeIntervalSince1970: 1_700_000_000)
            func contact(_ first: String, _ email: String?) -> Record {
                Record(id: "con_" + ULID.make(), workspaceID: scope.workspaceID,
                       values: ["first_name": .string(first), "last_name": .null, "display_name": .string(first),
                                "email": email.map(JSONValue.string) ?? .null, "visibility": .string("workspace")],
                       tags: [], customFields: [:], createdAt: now, updatedAt: now, createdBy: nil, version: 1)
            }
            var records = [contact("O'Brien", "ob@example.com"), contact("Ada", nil)]
            let pgDialect = ProcessInfo.processInfo.environment["KEEL_TEST_DATABASE_URL"]?.hasPrefix("postgres") == true
            if !pgDialect { records.append(contact("Nul\u{0}Byte", "nul@example.com")) }
            let stored = records
            try await db.write { try await $0.records.insertMany(scope, stored) }
            for r in stored {
                let back = try await db.read { try await $0.records.get(scope, id: r.id) }
                XCTAssertEqual(back?["first_name"], r["first_name"], r.id)
                XCTAssertEqual(back?["email"], r["email"], r.id)
                XCTAssertNil(back?["last_name"], r.id)
            }
        }
    }

    func testUniqueViolationIsTranslated() async throws {
        try await withDatabase { db in
            try await Migrator(database: db).migrate(logger: Logger(label: "t"))
            let user = User(id: .generate(), email: "a@b.co", name: "A", passwordHash: "x", lastWorkspaceID: nil, createdAt: Date(), updatedAt: Date(), version: 1)
            try await db.write { try await $0.identity.insertUser(user) }
            var copy = user
            copy.id = .generate()
            let duplicate = copy
            do {
                try await db.write { try await $0.identity.insertUser(duplicate) }
                XCTFail("expected a unique violation")
            } catch is UniqueViolation {}
        }
    }
}
