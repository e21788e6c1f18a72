import Foundation

/// A value bound into SQL, already in its stored representation.
public enum BoundValue: Sendable, Hashable {
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
}

/// What a condition or a sort key addresses.
public enum FilterTarget: Sendable, Hashable {
    /// `caseInsensitive`: text compared on its lower-case form (ids and enums compare exactly).
    case column(name: String, column: String, lower: String?, family: ValueFamily, caseInsensitive: Bool)
    case custom(key: String, type: CustomFieldType)
    case tags

    public var family: ValueFamily {
        switch self {
        case .column(_, _, _, let f, _): f
        case .custom(_, let t): t.family
        case .tags: .tags
        }
    }
}

public enum FilterOp: String, Sendable, CaseIterable {
    case eq, neq, lt, lte, gt, gte, `in`, nin, contains, startsWith = "starts_with", isNull = "is_null", between
    case lastNDays = "last_n_days", nextNDays = "next_n_days", today, thisWeek = "this_week", thisMonth = "this_month", thisQuarter = "this_quarter"
}

/// A validated filter tree; relative dates are already resolved to ranges.
public indirect enum FilterNode: Sendable, Hashable {
    case and([FilterNode])
    case or([FilterNode])
    case not(FilterNode)
    case compare(FilterTarget, FilterOp, [BoundValue])
    case isNull(FilterTarget, Bool)
    case always(Bool)
    /// A linked row exists: `<table>.<ownerColumn> = t.id AND <table>.<column> = value` (e.g. a deal's contacts).
    case linked(table: String, ownerColumn: String, column: String, value: String)
    /// Open deals with no activity (or stage entry) within their stage's rot_days, else the workspace default.
    case stale(nowMillis: Int64, defaultRotDays: Int, isStale: Bool)
}

public struct SortKey: Sendable, Hashable {
    public var target: FilterTarget
    public var descending: Bool
    public var nullable: Bool
    public init(target: FilterTarget, descending: Bool, nullable: Bool) {
        self.target = target
        self.descending = descending
        self.nullable = nullable
    }
}

/// Turns the JSON filter tree of `POST /{objects}/search` (and list query parameters) into a `FilterNode`.
public struct FilterParser: Sendable {
    public let schema: ObjectSchema
    public let customFields: [CustomFieldDefinition]
    public let timezone: TimeZone
    public let now: Date
    public let currency: String
    /// Query-string filters answer 400, body filters 422.
    public let errorKind: APIError.Kind

    public static let maxConditions = 50
    public static let maxDepth = 5

    public init(schema: ObjectSchema, customFields: [CustomFieldDefinition], timezone: TimeZone, now: Date, currency: String,
                errorKind: APIError.Kind = .validationFailed) {
        self.schema = schema
        self.customFields = customFields
        self.timezone = timezone
        self.now = now
        self.currency = currency
        self.errorKind = errorKind
    }

    func fail(_ field: String, _ code: String, _ message: String) -> APIError {
        APIError(errorKind, message, details: [ErrorDetail(field: field, code: code, message: message)])
    }

    public func parse(_ json: JSONValue) throws -> FilterNode {
        var count = 0
        return try node(json, depth: 1, path: "filter", count: &count)
    }

    func node(_ json: JSONValue, depth: Int, path: String, count: inout Int) throws -> FilterNode {
        guard depth <= FilterParser.maxDepth else {
            throw fail(path, "too_deep", "Filters may nest at most \(FilterParser.maxDepth) levels.")
        }
        guard case .object(let o) = json else { throw fail(path, "invalid_type", "\(path) must be an object.") }
        if o.count == 1, let (key, value) = o.first, ["and", "or", "not"].contains(key) {
            if key == "not" { return .not(try node(value, depth: depth + 1, path: "\(path).not", count: &count)) }
            guard case .array(let items) = value, !items.isEmpty else {
                throw fail("\(path).\(key)", "invalid_type", "\(key) takes a non-empty array of filters.")
            }
            let children = try items.enumerated().map { try node($0.element, depth: depth + 1, path: "\(path).\(key)[\($0.offset)]", count: &count) }
            return key == "and" ? .and(children) : .or(children)
        }
        count += 1
        guard count <= FilterParser.maxConditions else {
            throw fail(path, "too_many_conditions", "A filter may hold at most \(FilterParser.maxConditions) conditions.")
        }
        for k in o.keys where !["field", "op", "value"].contains(k) {
            throw fail("\(path).\(k)", "unknown_field", "Unknown key \(k) in a condition (use field, op, value, or and/or/not).")
        }
        guard case .string(let field)? = o["field"] else { throw fail("\(path).field", "required", "A condition needs a field.") }
        guard case .string(let opText)? = o["op"] else { throw fail("\(path).op", "required", "A condition needs an op.") }
        guard let op = FilterOp(rawValue: opText) else {
            throw fail("\(path).op", "unknown_operator", "Unknown operator \(opText).")
        }
        return try condition(field: field, op: op, value: o["value"], path: path)
    }

    public func target(_ field: String, path: String) throws -> (FilterTarget, FieldKind?) {
        if field == "tags" { return (.tags, nil) }
        if field.hasPrefix("custom_fields.") {
            let key = String(field.dropFirst("custom_fields.".count))
            guard let def = customFields.first(where: { $0.key == key }) else {
                throw fail("\(path).field", "unknown_field", "Unknown custom field \(key).")
            }
            return (.custom(key: key, type: def.type), nil)
        }
        guard let spec = schema.allFields.first(where: { $0.name == field }), spec.filterable, spec.kind.family != .json else {
            throw fail("\(path).field", "unknown_field", "\(field) is not a filterable field of \(schema.type).")
        }
        return (.column(name: spec.name, column: spec.column, lower: spec.lowerColumn, family: spec.kind.family, caseInsensitive: spec.kind.isCaseInsensitive), spec.kind)
    }

    public func condition(field: String, op: FilterOp, value: JSONValue?, path: String) throws -> FilterNode {
        let (target, kind) = try target(field, path: path)
        let family = target.family
        let value = value ?? .null
        func bound(_ v: JSONValue) throws -> BoundValue { try self.bound(v, family: family, kind: kind, target: target, path: "\(path).value") }
        switch op {
        case .isNull:
            guard case .bool(let b) = value else { throw fail("\(path).value", "invalid_type", "is_null takes true or false.") }
            return .isNull(target, b)
        case .eq, .neq:
            if value == .null { return .isNull(target, op == .eq) }
            return .compare(target, op, [try bound(value)])
        case .lt, .lte, .gt, .gte:
            guard [.number, .money, .probability, .date, .datetime, .text].contains(family) else {
                throw fail("\(path).op", "invalid_operator", "\(op.rawValue) does not apply to \(field).")
            }
            return .compare(target, op, [try bound(value)])
        case .in, .nin:
            guard case .array(let items) = value, !items.isEmpty, items.count <= 100 else {
                throw fail("\(path).value", "invalid_type", "\(op.rawValue) takes an array of 1 to 100 values.")
            }
            return .compare(target, op, try items.map(bound))
        case .contains, .startsWith:
            guard family == .text || family == .tags else {
                throw fail("\(path).op", "invalid_operator", "\(op.rawValue) applies to text fields only.")
            }
            guard case .string(let s) = value, !s.isEmpty else { throw fail("\(path).value", "invalid_type", "\(op.rawValue) takes a non-empty string.") }
            if case .phone? = kind { return .compare(target, op, [.text(Phone.digits(s))]) }
            return .compare(target, op, [.text(s.lowercased())])
        case .between:
            guard case .array(let items) = value, items.count == 2 else {
                throw fail("\(path).value", "invalid_type", "between takes [low, high].")
            }
            guard [.number, .money, .probability, .date, .datetime, .text].contains(family) else {
                throw fail("\(path).op", "invalid_operator", "between does not apply to \(field).")
            }
            return .compare(target, .between, [try bound(items[0]), try bound(items[1])])
        case .lastNDays, .nextNDays, .today, .thisWeek, .thisMonth, .thisQuarter:
            guard family == .date || family == .datetime else {
                throw fail("\(path).op", "invalid_operator", "\(op.rawValue) applies to date fields only.")
            }
            let (start, end) = try relativeRange(op, value: value, path: path)
            // Half-open [start, end) in the workspace timezone, bound in the column's representation.
            if family == .datetime {
                if case .custom = target {
                    return .and([.compare(target, .gte, [.text(Timestamp.format(start))]), .compare(target, .lt, [.text(Timestamp.format(end))])])
                }
                return .and([.compare(target, .gte, [.int(Timestamp.millis(start))]), .compare(target, .lt, [.int(Timestamp.millis(end))])])
            }
            return .and([.compare(target, .gte, [.text(localDate(start))]), .compare(target, .lt, [.text(localDate(end))])])
        }
    }

    func bound(_ v: JSONValue, family: ValueFamily, kind: FieldKind?, target: FilterTarget, path: String) throws -> BoundValue {
        let isCustom: Bool = if case .custom = target { true } else { false }
        switch family {
        case .text, .tags:
            guard case .string(let s) = v else { throw fail(path, "invalid_type", "Expected a string.") }
            if case .phone? = kind { return .text(Phone.digits(Phone.normalize(s) ?? s)) }
            if case .domain? = kind { return .text(Domain.normalize(s) ?? s.lowercased()) }
            if case .email? = kind { return .text(s.trimmingCharacters(in: .whitespaces).lowercased()) }
            if let kind, !kind.isCaseInsensitive { return .text(s) }
            return .text(s.lowercased())
        case .number:
            guard case .number(let n) = v else { throw fail(path, "invalid_type", "Expected a number.") }
            if !isCustom, let i = Int64(n) { return .int(i) }
            guard let d = Double(n) else { throw fail(path, "invalid_type", "Expected a number.") }
            return .double(d)
        case .money:
            guard case .number(let n) = v else { throw fail(path, "invalid_type", "Expected a number.") }
            if isCustom {
                guard let d = Double(n) else { throw fail(path, "invalid_type", "Expected a number.") }
                return .double(d)
            }
            guard let minor = Money.minorUnits(n, currency: currency) else {
                let refusal = Money.refusal(n, currency: currency, subject: "The amount")
                throw fail(path, refusal.code, refusal.message)
            }
            return .int(minor)
        case .probability:
            guard case .number(let n) = v, let bp = Probability.basisPoints(n) else {
                throw fail(path, "invalid_type", "Expected a probability from 0 to 1.")
            }
            return .int(bp)
        case .bool:
            guard case .bool(let b) = v else { throw fail(path, "invalid_type", "Expected true or false.") }
            return .bool(b)
        case .date:
            guard case .string(let s) = v, s.count == 10, Timestamp.parse(s) != nil else { throw fail(path, "invalid_type", "Expected a date YYYY-MM-DD.") }
            return .text(s)
        case .datetime:
            guard case .string(let s) = v, let d = Timestamp.parse(s) else { throw fail(path, "invalid_type", "Expected an RFC 3339 date-time.") }
            return isCustom ? .text(Timestamp.format(d)) : .int(Timestamp.millis(d))
        case .json:
            throw fail(path, "invalid_operator", "This field cannot be filtered.")
        }
    }

    var calendar: Calendar {
        var c = Calendar(identifier: .iso8601)
        c.timeZone = timezone
        c.firstWeekday = 2
        c.minimumDaysInFirstWeek = 4
        return c
    }

    func localDate(_ d: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    func relativeRange(_ op: FilterOp, value: JSONValue, path: String) throws -> (Date, Date) {
        let cal = calendar
        let startOfToday = cal.startOfDay(for: now)
        func days(_ n: Int, from d: Date) -> Date { cal.date(byAdding: .day, value: n, to: d) ?? d }
        switch op {
        case .lastNDays, .nextNDays:
            guard case .number(let text) = value, let n = Int(text), (1...3650).contains(n) else {
                throw fail("\(path).value", "invalid_value", "\(op.rawValue) takes an integer from 1 to 3650.")
            }
            return op == .lastNDays ? (days(-n, from: startOfToday), days(1, from: startOfToday)) : (startOfToday, days(n + 1, from: startOfToday))
        case .today:
            return (startOfToday, days(1, from: startOfToday))
        case .thisWeek:
            let start = cal.dateInterval(of: .weekOfYear, for: now)?.start ?? startOfToday
            return (start, days(7, from: start))
        case .thisMonth:
            let i = cal.dateInterval(of: .month, for: now)
            return (i?.start ?? startOfToday, i?.end ?? days(31, from: startOfToday))
        case .thisQuarter:
            let comps = cal.dateComponents([.year, .month], from: now)
            let firstMonth = ((comps.month ?? 1) - 1) / 3 * 3 + 1
            let start = cal.date(from: DateComponents(year: comps.year, month: firstMonth, day: 1)) ?? startOfToday
            let end = cal.date(byAdding: .month, value: 3, to: start) ?? start
            return (start, end)
        default:
            throw fail("\(path).op", "unknown_operator", "Unknown operator.")
        }
    }

    /// `sort` entries: `field` or `-field`, on sortable fields or custom fields.
    public func sortKey(_ raw: String, path: String = "sort") throws -> SortKey {
        let descending = raw.hasPrefix("-")
        let name = descending ? String(raw.dropFirst()) : raw
        if name.hasPrefix("custom_fields.") {
            let (t, _) = try target(name, path: path)
            if case .custom(_, .multiSelect) = t { throw fail(path, "invalid_sort", "Cannot sort by a multi_select field.") }
            return SortKey(target: t, descending: descending, nullable: true)
        }
        let resolved = name == "name" ? schema.nameField : name
        guard let spec = schema.allFields.first(where: { $0.name == resolved }), spec.sortable else {
            throw fail(path, "invalid_sort", "Cannot sort by \(name).")
        }
        return SortKey(target: .column(name: spec.name, column: spec.column, lower: spec.lowerColumn, family: spec.kind.family,
                                               caseInsensitive: spec.kind.isCaseInsensitive),
                       descending: descending, nullable: spec.nullable)
    }
}
