import Foundation
import KeelCore
import SQLKit

/// Compiles validated filter trees and sorts to parameterised SQL; the dialect differences for JSON live here.
struct SQLFilterCompiler {
    let dialect: SQLDialectKind
    let scope: RecordScope
    let alias = "t"

    func col(_ name: String) -> String { "\(alias).\(name)" }

    /// The SQL expression a target compares on, and how its binds must be typed.
    func expression(_ target: FilterTarget) -> (sql: String, bind: BindKind) {
        switch target {
        case .column(_, let column, let lower, let family, let ci):
            switch family {
            case .bool: return (col(column), .boolAsInt)
            case .number, .money, .probability, .datetime: return (col(column), .native)
            default:
                if let lower { return (col(lower), .native) }
                return (ci ? "lower(\(col(column)))" : col(column), .native)
            }
        case .custom(let key, let type):
            let text = dialect == .sqlite ? "json_extract(\(col("custom_fields")), '$.\"\(key)\"')" : "(\(col("custom_fields"))::jsonb ->> '\(key)')"
            switch type.family {
            case .number, .money:
                return (dialect == .sqlite ? text : "(\(text))::numeric", .native)
            case .bool:
                return (dialect == .sqlite ? text : "(\(text))::boolean", dialect == .sqlite ? .boolAsInt : .native)
            case .text:
                return ("lower(\(text))", .native)
            default:
                return (text, .native)
            }
        case .tags:
            return ("", .native)
        }
    }

    enum BindKind { case native, boolAsInt }

    func bind(_ v: BoundValue, _ kind: BindKind) -> SQLQueryString {
        switch v {
        case .text(let s): return "\(bind: s)"
        case .int(let i): return "\(bind: i)"
        case .double(let d): return "\(bind: d)"
        case .bool(let b): return kind == .boolAsInt ? "\(bind: Int64(b ? 1 : 0))" : "\(bind: b)"
        }
    }

    static func likeEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    func tagExists(_ condition: SQLQueryString?) -> SQLQueryString {
        var q: SQLQueryString = """
            EXISTS (SELECT 1 FROM record_tags rt WHERE rt.workspace_id = \(unsafeRaw: col("workspace_id")) \
            AND rt.object_type = \(bind: scope.schema.type) AND rt.object_id = \(unsafeRaw: col("id"))
            """
        if let condition { q += " AND " + condition }
        return q + ")"
    }

    func multiSelectExists(_ key: String, _ condition: (String) -> SQLQueryString) -> SQLQueryString {
        if dialect == .sqlite {
            return "EXISTS (SELECT 1 FROM json_each(\(unsafeRaw: col("custom_fields")), '$.\"\(unsafeRaw: key)\"') je WHERE " + condition("lower(je.value)") + ")"
        }
        return "EXISTS (SELECT 1 FROM jsonb_array_elements_text(\(unsafeRaw: col("custom_fields"))::jsonb -> '\(unsafeRaw: key)') je(v) WHERE "
            + condition("lower(je.v)") + ")"
    }

    func compile(_ node: FilterNode) -> SQLQueryString {
        switch node {
        case .always(let b): return b ? "1 = 1" : "1 = 0"
        case .and(let items): return "(" + items.map(compile).joined(separator: " AND ") + ")"
        case .or(let items): return "(" + items.map(compile).joined(separator: " OR ") + ")"
        // NULL comparisons are unknown in SQL; COALESCE makes `not` the exact complement.
        case .not(let inner): return "NOT COALESCE((" + compile(inner) + "), 1 = 0)"
        case .isNull(let target, let isNull):
            if case .tags = target { return isNull ? "NOT " + tagExists(nil) : tagExists(nil) }
            if case .custom(let key, .multiSelect) = target {
                let any = multiSelectExists(key) { _ in "1 = 1" }
                return isNull ? "NOT " + any : any
            }
            let (expr, _) = expression(target)
            return "\(unsafeRaw: expr) IS \(unsafeRaw: isNull ? "NULL" : "NOT NULL")"
        case .compare(let target, let op, let values):
            return compare(target, op, values)
        case .linked(let table, let ownerColumn, let column, let value):
            return linked(table: table, ownerColumn: ownerColumn, column: column, value: value)
        case .stale(let now, let rot, let isStale):
            return stale(nowMillis: now, defaultRotDays: rot, isStale: isStale)
        }
    }

    func compare(_ target: FilterTarget, _ op: FilterOp, _ values: [BoundValue]) -> SQLQueryString {
        if case .tags = target { return tagCompare(op, values) }
        if case .custom(let key, .multiSelect) = target {
            return membership(op, values) { cond in multiSelectExists(key, cond) }
        }
        let (expr, kind) = expression(target)
        let e = SQLQueryString(expr)
        switch op {
        case .eq: return e + " = " + bind(values[0], kind)
        case .neq: return "(" + e + " IS NULL OR " + e + " <> " + bind(values[0], kind) + ")"
        case .lt: return e + " < " + bind(values[0], kind)
        case .lte: return e + " <= " + bind(values[0], kind)
        case .gt: return e + " > " + bind(values[0], kind)
        case .gte: return e + " >= " + bind(values[0], kind)
        case .in: return e + " IN (" + values.map { bind($0, kind) }.joined(separator: ", ") + ")"
        case .nin: return "(" + e + " IS NULL OR " + e + " NOT IN (" + values.map { bind($0, kind) }.joined(separator: ", ") + "))"
        case .contains, .startsWith:
            guard case .text(let s) = values[0] else { return "1 = 0" }
            let pattern = (op == .contains ? "%" : "") + SQLFilterCompiler.likeEscape(s) + "%"
            return e + " LIKE \(bind: pattern) ESCAPE '\\'"
        case .between: return e + " BETWEEN " + bind(values[0], kind) + " AND " + bind(values[1], kind)
        default: return "1 = 0"
        }
    }

    /// Set-valued fields (tags, multi-selects): `eq`/`contains` mean "has", `in` "has any", `nin`/`neq` "has none".
    func membership(_ op: FilterOp, _ values: [BoundValue], _ exists: ((String) -> SQLQueryString) -> SQLQueryString) -> SQLQueryString {
        let texts = values.compactMap { v -> String? in if case .text(let s) = v { s.lowercased() } else { nil } }
        switch op {
        case .eq, .in:
            return exists { c in SQLQueryString(c) + " IN (" + boundList(texts) + ")" }
        case .neq, .nin:
            return "NOT " + exists { c in SQLQueryString(c) + " IN (" + boundList(texts) + ")" }
        case .contains:
            return exists { c in SQLQueryString(c) + " LIKE \(bind: "%" + SQLFilterCompiler.likeEscape(texts.first ?? "") + "%") ESCAPE '\\'" }
        case .startsWith:
            return exists { c in SQLQueryString(c) + " LIKE \(bind: SQLFilterCompiler.likeEscape(texts.first ?? "") + "%") ESCAPE '\\'" }
        default:
            return "1 = 0"
        }
    }

    func tagCompare(_ op: FilterOp, _ values: [BoundValue]) -> SQLQueryString {
        membership(op, values) { cond in tagExists(cond("rt.tag_lower")) }
    }

    /// `ORDER BY` with NULLs last in both directions and `id` as the tie-breaker.
    func orderBy(_ sort: SortKey) -> SQLQueryString {
        let (expr, _) = sortExpression(sort)
        let dir = sort.descending ? "DESC" : "ASC"
        if sort.nullable {
            return "ORDER BY (\(unsafeRaw: expr) IS NULL) ASC, \(unsafeRaw: expr) \(unsafeRaw: dir), \(unsafeRaw: col("id")) \(unsafeRaw: dir)"
        }
        return "ORDER BY \(unsafeRaw: expr) \(unsafeRaw: dir), \(unsafeRaw: col("id")) \(unsafeRaw: dir)"
    }

    func sortExpression(_ sort: SortKey) -> (String, BindKind) {
        expression(sort.target)
    }

    /// Rows strictly after the cursor position in sort order.
    func keyset(_ sort: SortKey, after: (value: BoundValue?, id: String)) -> SQLQueryString {
        let (expr, kind) = sortExpression(sort)
        let op = sort.descending ? "<" : ">"
        let e = SQLQueryString(expr)
        let idCol = SQLQueryString(col("id"))
        guard let value = after.value else {
            return "(" + e + " IS NULL AND " + idCol + " \(unsafeRaw: op) \(bind: after.id))"
        }
        let core: SQLQueryString = "(" + e + " \(unsafeRaw: op) " + bind(value, kind) + " OR (" + e + " = " + bind(value, kind) + " AND " + idCol
            + " \(unsafeRaw: op) \(bind: after.id)))"
        if sort.nullable { return "((" + e + " IS NOT NULL AND " + core + ") OR " + e + " IS NULL)" }
        return core
    }

    func textSearch(_ text: String) -> SQLQueryString {
        let pattern = "%" + SQLFilterCompiler.likeEscape(text) + "%"
        let digits = Phone.digits(text)
        let parts: [SQLQueryString] = scope.schema.fields.filter(\.searchable).compactMap { f in
            let column = col(f.lowerColumn ?? f.column)
            if case .phone = f.kind {
                guard digits.count >= 2 else { return nil }
                return "\(unsafeRaw: column) LIKE \(bind: "%" + SQLFilterCompiler.likeEscape(digits) + "%") ESCAPE '\\'"
            }
            if f.lowerColumn == nil && f.kind.isCaseInsensitive {
                return "lower(\(unsafeRaw: column)) LIKE \(bind: pattern) ESCAPE '\\'"
            }
            return "\(unsafeRaw: column) LIKE \(bind: pattern) ESCAPE '\\'"
        }
        return parts.isEmpty ? "1 = 0" : "(" + parts.joined(separator: " OR ") + ")"
    }

    /// The full WHERE clause of a list, search or count.
    func whereClause(_ q: RecordQuery, withCursor: Bool) -> SQLQueryString {
        var w: SQLQueryString = "\(unsafeRaw: col("workspace_id")) = \(bind: scope.workspaceID.rawValue)"
        if !q.includeDeleted { w += " AND \(unsafeRaw: col("deleted_at")) IS NULL" }
        if let viewer = q.viewer, !viewer.seesPrivate, scope.schema.hasOwner {
            w += " AND (\(unsafeRaw: col("visibility")) = 'workspace' OR \(unsafeRaw: col("owner_id")) = \(bind: viewer.userID.rawValue))"
        }
        if let f = q.filter { w += " AND " + compile(f) }
        if let text = q.text { w += " AND " + textSearch(text) }
        if withCursor, let after = q.after { w += " AND " + keyset(q.sort, after: after) }
        return w
    }
}

extension SQLFilterCompiler {
    func linked(table: String, ownerColumn: String, column: String, value: String) -> SQLQueryString {
        "EXISTS (SELECT 1 FROM \(unsafeRaw: table) l WHERE l.workspace_id = \(unsafeRaw: col("workspace_id")) AND l.\(unsafeRaw: ownerColumn) = \(unsafeRaw: col("id")) AND l.\(unsafeRaw: column) = \(bind: value))"
    }

    func stale(nowMillis: Int64, defaultRotDays: Int, isStale: Bool) -> SQLQueryString {
        let last = "CASE WHEN \(col("last_activity_at")) IS NOT NULL AND \(col("last_activity_at")) > \(col("stage_entered_at")) THEN \(col("last_activity_at")) ELSE \(col("stage_entered_at")) END"
        let core: SQLQueryString = """
            (\(unsafeRaw: col("status")) = 'open' AND (\(unsafeRaw: last)) < \(bind: nowMillis) - COALESCE((SELECT s.rot_days FROM stages s \
            WHERE s.workspace_id = \(unsafeRaw: col("workspace_id")) AND s.id = \(unsafeRaw: col("stage_id"))), \(bind: Int64(defaultRotDays))) * 86400000)
            """
        return isStale ? core : "NOT " + core
    }
}
