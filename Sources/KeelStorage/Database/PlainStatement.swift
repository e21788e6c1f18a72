import SQLKit

/// A statement as text with `?` placeholders and a flat list of values, for the write path's inserts.
///
/// A contact create binds about 140 values (the row, its history, audit entry, outbox event and idempotency record).
/// Written as `SQLQueryString` interpolations, each value became a fragment in an existential array that SQLKit then
/// serialized into text and binds, which cost the writer more time than SQLite's own work on those rows, all of it under
/// the single write lock. The SQLite writer runs this text and these values as they are; any other database (PostgreSQL)
/// gets them through the usual serializer, with its own placeholders.
struct PlainStatement: SQLExpression {
    /// A value, typed even when NULL: PostgreSQL rejects a NULL sent as text for a BIGINT column.
    enum Value: Sendable, Equatable {
        case text(String?)
        case int(Int64?)

        /// The same Swift types the `\(bind:)` interpolations used, so other drivers encode them as before.
        var bindable: any Encodable & Sendable {
            switch self {
            case .text(let s): s
            case .int(let i): i
            }
        }
    }

    private(set) var sql: String
    private(set) var values: [Value]

    /// `text` may hold no `?` of its own: each `?` stands for the next value.
    init(_ text: String = "", reservingValues count: Int = 0) {
        sql = text
        values = []
        values.reserveCapacity(count)
    }

    mutating func append(_ text: String) { sql += text }

    /// Appends a `?` bound to `value`.
    mutating func bind(_ value: Value) {
        sql += "?"
        values.append(value)
    }

    /// Appends `(?, ?, …)`, one placeholder per value.
    mutating func row(_ row: [Value]) {
        sql += "("
        for (i, v) in row.enumerated() {
            if i > 0 { sql += ", " }
            bind(v)
        }
        sql += ")"
    }

    func serialize(to serializer: inout SQLSerializer) {
        let parts = sql.split(separator: "?", omittingEmptySubsequences: false)
        for (i, part) in parts.enumerated() {
            if i > 0 {
                if i - 1 < values.count { serializer.write(bind: values[i - 1].bindable) } else { serializer.write("?") }
            }
            serializer.write(String(part))
        }
    }
}
