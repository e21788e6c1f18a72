import Foundation
import KeelCore
import Logging
import SQLKit

/// Applies pending migrations in order, each in its own transaction, recording each in `keel_migrations`.
public struct Migrator: Sendable {
    let database: KeelDatabase
    let migrations: [Migration]

    public init(database: KeelDatabase, migrations: [Migration] = Migrations.all) {
        self.database = database
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    static let lockKey: Int64 = 0x6B65_656C  // "keel"

    /// Returns the versions applied by this call. `afterward` runs inside the migration lock (used for first-run bootstrap).
    @discardableResult
    public func migrate(logger: Logger, afterward: (@Sendable () async throws -> Void)? = nil) async throws -> [Int] {
        let dialect = database.dialect
        let migrations = self.migrations
        if dialect == .postgres {
            // The advisory lock lives on one session, so parallel instances wait here instead of racing.
            return try await database.withSQL(write: true) { db in
                try await db.raw("SELECT pg_advisory_lock(\(bind: Migrator.lockKey))").run()
                do {
                    let applied = try await Migrator.apply(migrations, on: db, dialect: dialect, logger: logger)
                    try await afterward?()
                    try await db.raw("SELECT pg_advisory_unlock(\(bind: Migrator.lockKey))").run()
                    return applied
                } catch {
                    try? await db.raw("SELECT pg_advisory_unlock(\(bind: Migrator.lockKey))").run()
                    throw error
                }
            }
        }
        let applied = try await database.withSQL(write: true) { db in
            try await Migrator.apply(migrations, on: db, dialect: dialect, logger: logger)
        }
        try await afterward?()
        return applied
    }

    static func apply(_ migrations: [Migration], on db: any SQLDatabase, dialect: SQLDialectKind, logger: Logger) async throws -> [Int] {
        try await db.raw("CREATE TABLE IF NOT EXISTS keel_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)").run()
        let done = Set(try await db.raw("SELECT version FROM keel_migrations").all().map { try $0.decode(column: "version", as: Int.self) })
        var applied: [Int] = []
        for m in migrations where !done.contains(m.version) {
            try await db.raw(SQLQueryString(dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")).run()
            do {
                for statement in m.sql(for: dialect) { try await db.raw(SQLQueryString(statement)).run() }
                if let data = m.data { try await data(SQLSession(db: db, dialect: dialect)) }
                try await db.raw("""
                    INSERT INTO keel_migrations (version, name, applied_at)
                    VALUES (\(bind: m.version), \(bind: m.name), \(bind: Timestamp.millis(Date())))
                    """).run()
                try await db.raw("COMMIT").run()
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
            logger.info("applied migration", metadata: ["version": "\(m.version)", "name": "\(m.name)"])
            applied.append(m.version)
        }
        return applied
    }

    /// Versions not yet applied (readiness reports 503 while any are pending).
    public func pending() async throws -> [Int] {
        let migrations = self.migrations
        return try await database.withSQL(write: false) { db in
            let exists: Bool
            if database.dialect == .sqlite {
                exists = try await db.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'keel_migrations'").first() != nil
            } else {
                exists = try await db.raw("SELECT to_regclass('keel_migrations') IS NOT NULL AS present").first()?
                    .decode(column: "present", as: Bool.self) ?? false
            }
            guard exists else { return migrations.map(\.version) }
            let done = Set(try await db.raw("SELECT version FROM keel_migrations").all().map { try $0.decode(column: "version", as: Int.self) })
            return migrations.map(\.version).filter { !done.contains($0) }
        }
    }
}
