import Foundation

/// Query-string filters of list endpoints, turned into the same filter tree the search endpoint uses.
enum ListQuery {
    static let reserved: Set<String> = ["limit", "cursor", "include_total", "sort", "fields", "expand", "q", "include_deleted"]

    static func bool(_ raw: String?, _ name: String) throws -> Bool? {
        guard let raw else { return nil }
        switch raw {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badRequest("\(name) must be true or false.", field: name)
        }
    }

    static func text(_ raw: String?) throws -> String? {
        guard let raw else { return nil }
        let t = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.count >= 2 else { throw APIError.badRequest("q needs at least 2 characters.", field: "q") }
        guard t.count <= 200 else { throw APIError.badRequest("q is at most 200 characters.", field: "q") }
        return t.lowercased()
    }

    /// `field=value` equality, `tag=`, `<field>_gte|_lte` for numbers and `<field>_after|_before` for dates.
    static func filters(_ query: [String: String], parser: FilterParser, behavior: any ObjectBehavior, workspace: Workspace) throws -> [FilterNode] {
        let schema = behavior.schema
        var out: [FilterNode] = []
        for (key, value) in query.sorted(by: { $0.key < $1.key }) where !reserved.contains(key) {
            if let special = try behavior.listFilter(key, value, parser: parser, workspace: workspace) {
                out.append(special)
                continue
            }
            if key == "tag" {
                out.append(try parser.condition(field: "tags", op: .eq, value: .string(value), path: key))
                continue
            }
            if let spec = schema.allFields.first(where: { $0.name == key }), spec.filterable, spec.kind.family != .json {
                if case .reference(let prefix) = spec.kind, !(value.hasPrefix(prefix.rawValue + "_") && ULID.isValid(value.dropFirst(prefix.rawValue.count + 1))) {
                    throw APIError.badRequest("\(key) is not a valid \(prefix.rawValue)_ id.", field: key)
                }
                if key == "currency", !Currency.isValid(value) {
                    throw APIError.badRequest("currency must be an ISO 4217 code Keel supports.", field: key)
                }
                if case .enumeration(let allowed) = spec.kind, !allowed.contains(value) {
                    throw APIError.badRequest("\(key) must be one of: \(allowed.joined(separator: ", ")).", field: key)
                }
                out.append(try parser.condition(field: key, op: .eq, value: typed(value, spec.kind.family, key), path: key))
                continue
            }
            var matched = false
            for (suffix, op) in [("_gte", FilterOp.gte), ("_lte", .lte), ("_after", .gte), ("_before", .lte)] where key.hasSuffix(suffix) {
                let base = String(key.dropLast(suffix.count))
                // `created_after` addresses `created_at`.
                guard let spec = schema.allFields.first(where: { $0.name == base }) ?? schema.allFields.first(where: { $0.name == base + "_at" }),
                      spec.filterable else { continue }
                let field = spec.name
                let family = spec.kind.family
                let isDate = family == .date || family == .datetime
                guard isDate == (suffix == "_after" || suffix == "_before"), family != .text, family != .bool else { continue }
                out.append(try parser.condition(field: field, op: op, value: typed(value, family, key), path: key))
                matched = true
            }
            if !matched { throw APIError.badRequest("Unknown query parameter \(key).", field: key) }
        }
        return out
    }

    static func typed(_ raw: String, _ family: ValueFamily, _ key: String) throws -> JSONValue {
        switch family {
        case .number, .money, .probability:
            guard Decimal(string: raw) != nil, raw.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" }) else {
                throw APIError.badRequest("\(key) must be a number.", field: key)
            }
            return .number(raw)
        case .bool:
            guard let b = try bool(raw, key) else { return .null }
            return .bool(b)
        case .datetime:
            // A bare date bound means the start of that day (UTC).
            guard let d = Timestamp.parse(raw) else { throw APIError.badRequest("\(key) must be a date or date-time.", field: key) }
            return .string(Timestamp.format(d))
        default:
            return .string(raw)
        }
    }
}

/// The stored form of a record's sort value, and its cursor encoding.
public enum SortValues {
    public static func extract(_ r: Record, _ key: SortKey, currency: String) -> BoundValue? {
        switch key.target {
        case .column(let name, _, _, let family, let ci):
            switch name {
            case "created_at": return .int(Timestamp.millis(r.createdAt))
            case "updated_at": return .int(Timestamp.millis(r.updatedAt))
            case "id": return .text(r.id)
            case "version": return .int(Int64(r.version))
            default: break
            }
            guard let v = r[name] else { return nil }
            return bound(v, family: family, lower: ci, currency: currency, custom: false)
        case .custom(let key, let type):
            guard let v = r.customFields[key], v != .null else { return nil }
            if type == .multiSelect { return nil }
            return bound(v, family: type.family, lower: type.family == .text, currency: currency, custom: true)
        case .tags:
            return nil
        }
    }

    static func bound(_ v: JSONValue, family: ValueFamily, lower: Bool, currency: String, custom: Bool) -> BoundValue? {
        switch (family, v) {
        case (.text, .string(let s)), (.date, .string(let s)): return .text(lower ? s.lowercased() : s)
        case (.datetime, .string(let s)):
            guard let d = Timestamp.parse(s) else { return nil }
            return custom ? .text(Timestamp.format(d)) : .int(Timestamp.millis(d))
        case (.number, .number(let n)): return custom ? Double(n).map(BoundValue.double) : Int64(n).map(BoundValue.int)
        case (.probability, .number(let n)): return Probability.basisPoints(n).map(BoundValue.int)
        case (.money, .number(let n)): return custom ? Double(n).map(BoundValue.double) : Money.minorUnits(n, currency: currency).map(BoundValue.int)
        case (.bool, .bool(let b)): return .bool(b)
        default: return nil
        }
    }

    public static func encode(_ v: BoundValue?) -> String? {
        switch v {
        case nil: return nil
        case .text(let s): return "t:" + s
        case .int(let i): return "i:" + String(i)
        case .double(let d): return "d:" + String(d)
        case .bool(let b): return b ? "b:1" : "b:0"
        }
    }

    public static func decode(_ s: String?) throws -> BoundValue? {
        guard let s else { return nil }
        let bad = APIError.badRequest("The cursor is invalid or belongs to another query.", field: "cursor")
        guard s.count >= 2 else { throw bad }
        let body = String(s.dropFirst(2))
        switch s.prefix(2) {
        case "t:": return .text(body)
        case "i:": guard let i = Int64(body) else { throw bad }; return .int(i)
        case "d:": guard let d = Double(body) else { throw bad }; return .double(d)
        case "b:": return .bool(body == "1")
        default: throw bad
        }
    }
}
