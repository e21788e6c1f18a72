import SQLKit

/// Column reads for decoding records: a direct SQLite row answers from its values at once, any other row (PostgreSQL) and
/// any surprise go through SQLKit's `decode`, which also reports errors. A record has about thirty columns, and the
/// generic path's casts and metadata lookups were a visible part of a `GET /contacts/{id}`.
struct ColumnReader {
    let row: any SQLRow
    let direct: SQLiteDirectRow?

    init(_ row: any SQLRow) {
        self.row = row
        self.direct = row as? SQLiteDirectRow
    }

    func text(_ column: String) throws -> String? {
        if let direct, case .some(let value) = direct.text(column) { return value }
        return try row.decode(column: column, as: String?.self)
    }

    func int(_ column: String) throws -> Int64? {
        if let direct, case .some(let value) = direct.integer(column) { return value }
        return try row.decode(column: column, as: Int64?.self)
    }

    func requiredText(_ column: String) throws -> String {
        if let direct, case .some(.some(let value)) = direct.text(column) { return value }
        return try row.decode(column: column, as: String.self)
    }

    func requiredInt(_ column: String) throws -> Int64 {
        if let direct, case .some(.some(let value)) = direct.integer(column) { return value }
        return try row.decode(column: column, as: Int64.self)
    }
}
