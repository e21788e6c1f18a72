import Foundation
import KeelCore
import SQLKit

/// Stores any `ObjectSchema`'s records: one column per field, tags and custom fields as JSON text.
struct SQLRecordRepository: RecordRepository {
    let db: any SQLDatabase
    let dialect: SQLDialectKind

    /// A stored column's value: the same typed value the write path binds.
    typealias ColumnValue = PlainStatement.Value

    /// `(v1, v2, ...)` with literals; nil when some value needs binding.
    static func literalRow(_ values: [ColumnValue]) -> String? {
        var out = "("
        for (i, v) in values.enumerated() {
            guard let l = v.literal else { return nil }
            if i > 0 { out += ", " }
            out += l
        }
        return out + ")"
    }

    static func json(_ v: JSONValue) -> String { v.jsonString() }

    /// The stored columns of one field.
    func columns(_ spec: FieldSpec, _ value: JSONValue?, currency: String) -> [(String, ColumnValue)] {
        let v = value == .null ? nil : value
        var out: [(String, ColumnValue)]
        switch spec.kind {
        case .bool:
            if case .bool(let b)? = v { out = [(spec.column, .int(b ? 1 : 0))] } else { out = [(spec.column, .int(spec.nullable ? nil : 0))] }
        case .integer:
            if case .number(let n)? = v { out = [(spec.column, .int(Int64(n)))] } else { out = [(spec.column, .int(nil))] }
        case .money:
            if case .number(let n)? = v { out = [(spec.column, .int(Money.minorUnits(n, currency: currency)))] } else { out = [(spec.column, .int(nil))] }
        case .probability:
            if case .number(let n)? = v { out = [(spec.column, .int(Probability.basisPoints(n)))] } else { out = [(spec.column, .int(nil))] }
        case .datetime:
            if case .string(let s)? = v, let d = Timestamp.parse(s) { out = [(spec.column, .int(Timestamp.millis(d)))] } else { out = [(spec.column, .int(nil))] }
        case .address, .links:
            out = [(spec.column, .text(v.map(SQLRecordRepository.json)))]
        default:
            out = [(spec.column, .text(v?.stringValue))]
        }
        if let lower = spec.lowerColumn {
            if case .phone = spec.kind {
                // Phones match on their digits, whatever formatting was stored.
                out.append((lower, .text(v?.stringValue.map { Phone.digits($0) })))
            } else {
                out.append((lower, .text(v?.stringValue?.lowercased())))
            }
        }
        return out
    }

    func allColumns(_ scope: RecordScope, _ r: Record) -> [(String, ColumnValue)] {
        var cols: [(String, ColumnValue)] = [
            ("workspace_id", .text(scope.workspaceID.rawValue)), ("id", .text(r.id)),
            ("created_at", .int(Timestamp.millis(r.createdAt))), ("updated_at", .int(Timestamp.millis(r.updatedAt))),
            ("created_by", .text(r.createdBy?.rawValue)), ("version", .int(Int64(r.version))),
            ("deleted_at", .int(r.deletedAt.map(Timestamp.millis))), ("merged_into", .text(r.mergedInto)),
            ("tags", .text(SQLRecordRepository.json(.array(r.tags.map(JSONValue.string))))),
            ("custom_fields", .text(SQLRecordRepository.json(.object(r.customFields)))),
        ]
        for spec in scope.schema.fields { cols += columns(spec, r.values[spec.name], currency: scope.currency) }
        return cols
    }

    func decode(_ scope: RecordScope, _ sqlRow: any SQLRow) throws -> Record {
        let row = ColumnReader(sqlRow)
        var values: [String: JSONValue] = [:]
        values.reserveCapacity(scope.schema.fields.count)
        for spec in scope.schema.fields {
            switch spec.kind {
            case .bool:
                values[spec.name] = try row.int(spec.column).map { .bool($0 != 0) } ?? .null
            case .integer:
                values[spec.name] = try row.int(spec.column).map { .number(String($0)) } ?? .null
            case .money:
                let currency = values["currency"]?.stringValue ?? scope.currency
                values[spec.name] = try row.int(spec.column).map { .number(Money.format($0, currency: currency)) } ?? .null
            case .datetime:
                values[spec.name] = try row.int(spec.column).map { .string(Timestamp.format(millis: $0)) } ?? .null
            case .probability:
                values[spec.name] = try row.int(spec.column).map { .number(Probability.format($0)) } ?? .null
            case .address, .links:
                values[spec.name] = try row.text(spec.column).flatMap(JSONValue.parse) ?? .null
            default:
                values[spec.name] = try row.text(spec.column).map(JSONValue.string) ?? .null
            }
        }
        let tags: [String]
        if case .array(let items)? = JSONValue.parse(try row.requiredText("tags")) {
            tags = items.compactMap(\.stringValue)
        } else {
            tags = []
        }
        let custom = JSONValue.parse(try row.requiredText("custom_fields"))?.objectValue ?? [:]
        return Record(id: try row.requiredText("id"), workspaceID: scope.workspaceID, values: values, tags: tags,
                      customFields: custom, createdAt: Timestamp.date(try row.requiredInt("created_at")),
                      updatedAt: Timestamp.date(try row.requiredInt("updated_at")),
                      createdBy: try row.text("created_by").map { UserID(trusted: $0) },
                      version: Int(try row.requiredInt("version")),
                      deletedAt: try row.int("deleted_at").map(Timestamp.date),
                      mergedInto: try row.text("merged_into"))
    }

    func insert(_ scope: RecordScope, _ record: Record) async throws {
        let cols = allColumns(scope, record)
        var statement = PlainStatement("INSERT INTO \(scope.schema.table) (\(cols.map(\.0).joined(separator: ", "))) VALUES ",
                                       reservingValues: cols.count)
        statement.row(cols.map(\.1))
        try await db.execute(sql: statement) { _ in }
    }

    func insertMany(_ scope: RecordScope, _ records: [Record]) async throws {
        guard let first = records.first else { return }
        let names = allColumns(scope, first).map(\.0).joined(separator: ", ")
        let perStatement = max(1, 9000 / max(1, allColumns(scope, first).count))
        for start in stride(from: 0, to: records.count, by: perStatement) {
            let chunk = records[start..<min(start + perStatement, records.count)]
            let literals = chunk.map { SQLRecordRepository.literalRow(allColumns(scope, $0).map(\.1)) }
            if literals.allSatisfy({ $0 != nil }) {
                // Literal values: binding thousands of parameters one by one costs more than parsing them.
                let text = "INSERT INTO \(scope.schema.table) (\(names)) VALUES " + literals.compactMap { $0 }.joined(separator: ", ")
                try await db.raw(SQLQueryString(text)).run()
            } else {
                var statement = PlainStatement("INSERT INTO \(scope.schema.table) (\(names)) VALUES ")
                for (i, r) in chunk.enumerated() {
                    if i > 0 { statement.append(", ") }
                    statement.row(allColumns(scope, r).map(\.1))
                }
                try await db.execute(sql: statement) { _ in }
            }
            let tagRows = chunk.flatMap { r in
                r.tags.map { tag -> SQLQueryString in
                    "(\(bind: scope.workspaceID.rawValue), \(bind: scope.schema.type), \(bind: r.id), \(bind: tag), \(bind: tag.lowercased()))"
                }
            }
            if !tagRows.isEmpty {
                try await db.raw("INSERT INTO record_tags (workspace_id, object_type, object_id, tag, tag_lower) VALUES " + tagRows.joined(separator: ", ")).run()
            }
        }
    }

    func update(_ scope: RecordScope, _ record: Record) async throws {
        let cols = allColumns(scope, record).filter { $0.0 != "workspace_id" && $0.0 != "id" && $0.0 != "created_at" && $0.0 != "created_by" }
        var statement = PlainStatement("UPDATE \(scope.schema.table) SET ", reservingValues: cols.count + 2)
        for (i, col) in cols.enumerated() {
            statement.append(i == 0 ? "\(col.0) = " : ", \(col.0) = ")
            statement.bind(col.1)
        }
        statement.append(" WHERE workspace_id = ")
        statement.bind(.text(scope.workspaceID.rawValue))
        statement.append(" AND id = ")
        statement.bind(.text(record.id))
        try await db.execute(sql: statement) { _ in }
    }

    func get(_ scope: RecordScope, id: String) async throws -> Record? {
        try await db.raw("SELECT * FROM \(unsafeRaw: scope.schema.table) WHERE workspace_id = \(bind: scope.workspaceID.rawValue) AND id = \(bind: id)")
            .first().map { try decode(scope, $0) }
    }

    func getMany(_ scope: RecordScope, ids: [String]) async throws -> [Record] {
        guard !ids.isEmpty else { return [] }
        let list = boundList(ids)
        return try await db.raw("SELECT * FROM \(unsafeRaw: scope.schema.table) WHERE workspace_id = \(bind: scope.workspaceID.rawValue) AND id IN (" + list + ")")
            .all().map { try decode(scope, $0) }
    }

    func list(_ scope: RecordScope, _ query: RecordQuery) async throws -> [Record] {
        let c = SQLFilterCompiler(dialect: dialect, scope: scope)
        let sql: SQLQueryString = "SELECT t.* FROM \(unsafeRaw: scope.schema.table) t WHERE " + c.whereClause(query, withCursor: true) + " "
            + c.orderBy(query.sort) + " LIMIT \(bind: Int64(query.limit))"
        return try await db.raw(sql).all().map { try decode(scope, $0) }
    }

    func count(_ scope: RecordScope, _ query: RecordQuery) async throws -> Int {
        let c = SQLFilterCompiler(dialect: dialect, scope: scope)
        let sql: SQLQueryString = "SELECT COUNT(*) AS n FROM \(unsafeRaw: scope.schema.table) t WHERE " + c.whereClause(query, withCursor: false)
        return Int(try await db.raw(sql).first()?.decode(column: "n", as: Int64.self) ?? 0)
    }

    func find(_ scope: RecordScope, field: String, value: String, limit: Int) async throws -> [Record] {
        guard let spec = scope.schema.field(field) else { return [] }
        // Case-insensitive fields match on their lower-case shadow column.
        let column = spec.lowerColumn ?? spec.column
        var needle = spec.lowerColumn == nil ? value : value.lowercased()
        if case .phone = spec.kind { needle = Phone.digits(value) }
        return try await db.raw("""
            SELECT * FROM \(unsafeRaw: scope.schema.table) WHERE workspace_id = \(bind: scope.workspaceID.rawValue)
            AND \(unsafeRaw: column) = \(bind: needle) AND deleted_at IS NULL ORDER BY id LIMIT \(bind: Int64(limit))
            """).all().map { try decode(scope, $0) }
    }

    func relink(_ scope: RecordScope, column: String, from: String, to: String?, onlyLive: Bool) async throws -> Int {
        guard scope.schema.fields.contains(where: { $0.column == column }) else { return 0 }
        let rows = try await db.raw("""
            UPDATE \(unsafeRaw: scope.schema.table) SET \(unsafeRaw: column) = \(bind: to)
            WHERE workspace_id = \(bind: scope.workspaceID.rawValue) AND \(unsafeRaw: column) = \(bind: from)\(unsafeRaw: onlyLive ? " AND deleted_at IS NULL" : "")
            RETURNING id
            """).all()
        return rows.count
    }

    func relinkRelated(_ scope: RecordScope, relatedType: String, from: String, to: String) async throws -> Int {
        let rows = try await db.raw("""
            UPDATE \(unsafeRaw: scope.schema.table) SET related_id = \(bind: to)
            WHERE workspace_id = \(bind: scope.workspaceID.rawValue) AND related_type = \(bind: relatedType) AND related_id = \(bind: from)
            RETURNING id
            """).all()
        return rows.count
    }

    func setTags(_ scope: RecordScope, id: String, tags: [String]) async throws {
        try await db.raw("""
            DELETE FROM record_tags WHERE workspace_id = \(bind: scope.workspaceID.rawValue) AND object_type = \(bind: scope.schema.type) AND object_id = \(bind: id)
            """).run()
        guard !tags.isEmpty else { return }
        let rows = tags.map { tag -> SQLQueryString in
            "(\(bind: scope.workspaceID.rawValue), \(bind: scope.schema.type), \(bind: id), \(bind: tag), \(bind: tag.lowercased()))"
        }.joined(separator: ", ")
        try await db.raw("INSERT INTO record_tags (workspace_id, object_type, object_id, tag, tag_lower) VALUES " + rows).run()
    }
}

extension PlainStatement.Value {
    /// `s` as an SQL string literal, quotes doubled; nil when it holds a NUL character. Byte by byte rather than through
    /// Foundation's `replacingOccurrences`, which cost a bulk load of contacts a tenth of its time.
    static func quoted(_ s: String) -> String? {
        var quotes = 0
        for byte in s.utf8 {
            if byte == 0 { return nil }
            if byte == 0x27 { quotes += 1 }
        }
        if quotes == 0 { return "'" + s + "'" }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count + quotes + 2)
        bytes.append(0x27)
        for byte in s.utf8 {
            bytes.append(byte)
            if byte == 0x27 { bytes.append(0x27) }
        }
        bytes.append(0x27)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value as an SQL literal (bulk loads skip per-value binding), or nil when it cannot be one (a NUL character).
    var literal: String? {
        switch self {
        case .int(let i): return i.map { String($0) } ?? "NULL"
        case .text(let s):
            guard let s else { return "NULL" }
            return Self.quoted(s)
        }
    }
}
