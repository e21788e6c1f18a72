import KeelCore

/// A numbered, immutable schema step. Released migrations are never edited; a change is a new migration.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    /// Statements in portable SQL; `{{SERIAL_PK}}` is the one dialect placeholder.
    public let statements: [String]
    /// Statements only one dialect understands (triggers and their functions), run after the portable ones.
    public let dialectStatements: [SQLDialectKind: [String]]
    /// Data changes that need domain code (e.g. giving existing workspaces their default pipeline), run after the statements.
    public let data: (@Sendable (any StoreSession) async throws -> Void)?

    public init(version: Int, name: String, statements: [String], dialectStatements: [SQLDialectKind: [String]] = [:],
                data: (@Sendable (any StoreSession) async throws -> Void)? = nil) {
        self.version = version
        self.name = name
        self.statements = statements
        self.dialectStatements = dialectStatements
        self.data = data
    }

    func sql(for dialect: SQLDialectKind) -> [String] {
        (statements + (dialectStatements[dialect] ?? [])).map {
            $0.replacingOccurrences(of: "{{SERIAL_PK}}",
                                    with: dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY")
        }
    }
}

public enum Migrations {
    public static let all: [Migration] = [m001Foundation, m002Records, m003Pipelines, m004LeadsTasksActivities, m005WebhooksAutomations, m006StageTotals]
    public static var latest: Int { all.map(\.version).max() ?? 0 }
}
