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
                            return (i, false)
                        }
                        // Acknowledged means committed: a fresh reader sees it at once.
                        let seen = try? await db.withSQL(write: false) { sql in
                            try await sql.raw("SELECT key FROM idempotency_keys WHERE scope = 's' AND key = \(bind: key)").first()
                        }
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
            XCTAssertEqual(keys.count, 48, "the 12 second claims of a key fail")
            XCTAssertEqual(Set(keys).count, 48, "and never both writers of one key")
            let audits = try await db.withSQL(write: false) { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM audit_logs WHERE action LIKE 'w%'").first()?.decode(column: "n", as: Int.self)
            }
            XCTAssertEqual(audits, 48, "a failed write's own audit row is rolled back, the others are kept")
        }
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
