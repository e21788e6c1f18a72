import Foundation

/// What a run's conditions and templates see: the event's record, its previous values and what changed.
public struct AutomationSubject: Sendable {
    public var objectType: String
    public var objectID: String
    public var record: [String: JSONValue]
    public var previous: [String: JSONValue]
    public var changedFields: [String]
    /// Related records resolved for paths like `deal.stage.type`.
    public var related: [String: JSONValue]
    /// The triggering event as webhooks would see it (for `send_webhook`).
    public var event: JSONValue?

    public init(objectType: String, objectID: String, record: [String: JSONValue], previous: [String: JSONValue] = [:],
                changedFields: [String] = [], related: [String: JSONValue] = [:], event: JSONValue? = nil) {
        self.objectType = objectType
        self.objectID = objectID
        self.record = record
        self.previous = previous
        self.changedFields = changedFields
        self.related = related
        self.event = event
    }

    /// `changed_fields`, `previous.<field>`, `<object>.<field>[.<sub>]` (and `record.` in templates).
    public func value(at path: String) -> JSONValue? {
        if path == "changed_fields" { return .array(changedFields.map(JSONValue.string)) }
        let parts = path.split(separator: ".").map(String.init)
        guard parts.count >= 2 else { return nil }
        var current: JSONValue?
        switch parts[0] {
        case "previous": current = previous[parts[1]]
        case objectType, "record": current = record[parts[1]] ?? related[parts[1]]
        default: return nil
        }
        for key in parts.dropFirst(2) { current = current?.objectValue?[key] }
        return current
    }
}

/// Evaluates conditions in memory with the search operators' meaning (strings compare case-insensitively).
public struct ConditionEvaluator: Sendable {
    public let now: Date
    public let timezone: TimeZone
    /// The subject's schema (relative date ranges are computed the way search computes them).
    public let schema: ObjectSchema

    public init(now: Date, timezone: TimeZone, schema: ObjectSchema) {
        self.now = now
        self.timezone = timezone
        self.schema = schema
    }

    public func matches(_ conditions: [AutomationCondition], _ subject: AutomationSubject) -> Bool {
        conditions.allSatisfy { matches($0, subject) }
    }

    public func matches(_ c: AutomationCondition, _ subject: AutomationSubject) -> Bool {
        let actual = subject.value(at: c.field) ?? .null
        switch c.op {
        case .isNull:
            let isNull = actual == .null || actual == .string("") || actual == .array([])
            return isNull == (c.value == .bool(true))
        case .eq: return anyElement(actual) { equal($0, c.value) }
        case .neq: return !anyElement(actual) { equal($0, c.value) }
        case .gt: return compare(actual, c.value).map { $0 > 0 } ?? false
        case .gte: return compare(actual, c.value).map { $0 >= 0 } ?? false
        case .lt: return compare(actual, c.value).map { $0 < 0 } ?? false
        case .lte: return compare(actual, c.value).map { $0 <= 0 } ?? false
        case .in, .nin:
            guard case .array(let options) = c.value else { return false }
            let hit = anyElement(actual) { a in options.contains { equal(a, $0) } }
            return c.op == .in ? hit : !hit
        case .contains:
            guard let needle = c.value.stringValue?.lowercased() else { return false }
            if case .array(let items) = actual { return items.contains { text($0)?.lowercased() == needle } }
            return text(actual)?.lowercased().contains(needle) ?? false
        case .startsWith:
            guard let prefix = c.value.stringValue?.lowercased() else { return false }
            return text(actual)?.lowercased().hasPrefix(prefix) ?? false
        case .between:
            guard case .array(let bounds) = c.value, bounds.count == 2,
                  let low = compare(actual, bounds[0]), let high = compare(actual, bounds[1]) else { return false }
            return low >= 0 && high <= 0
        case .lastNDays, .nextNDays, .today, .thisWeek, .thisMonth, .thisQuarter:
            guard let date = date(actual), let range = relativeRange(c.op, c.value) else { return false }
            return date >= range.0 && date < range.1
        }
    }

    func anyElement(_ v: JSONValue, _ test: (JSONValue) -> Bool) -> Bool {
        if case .array(let items) = v { return items.contains(where: test) }
        return test(v)
    }

    func text(_ v: JSONValue) -> String? {
        switch v {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }

    func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        if case .bool = a { return a == b }
        if let x = text(a), let y = text(b) { return x.lowercased() == y.lowercased() }
        return a == b
    }

    func number(_ v: JSONValue) -> Decimal? {
        switch v {
        case .number(let n): Decimal(string: n)
        // Money travels as a decimal string; dates ("2026-11-25") must not be read as numbers.
        case .string(let s) where s.range(of: #"^-?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil: Decimal(string: s)
        default: nil
        }
    }

    func date(_ v: JSONValue) -> Date? {
        guard let s = v.stringValue else { return nil }
        if let d = Timestamp.parse(s) { return d }
        // Plain dates (close_date) compare at midnight in the workspace timezone.
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timezone
        f.dateFormat = "yyyy-MM-dd"
        return s.count == 10 ? f.date(from: s) : nil
    }

    /// -1, 0, 1; nil when the two cannot be ordered.
    func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if let x = number(a), let y = number(b) { return x < y ? -1 : (x > y ? 1 : 0) }
        if let x = date(a), let y = date(b) { return x < y ? -1 : (x > y ? 1 : 0) }
        if let x = a.stringValue?.lowercased(), let y = b.stringValue?.lowercased() { return x < y ? -1 : (x > y ? 1 : 0) }
        return nil
    }

    func relativeRange(_ op: FilterOp, _ value: JSONValue) -> (Date, Date)? {
        let parser = FilterParser(schema: schema, customFields: [], timezone: timezone, now: now, currency: "USD")
        return try? parser.relativeRange(op, value: value, path: "value")
    }
}

/// `{{record.field}}` placeholders in action text (also `{{deal.name}}`, `{{previous.stage_id}}`); unknown paths render empty.
public enum AutomationTemplate {
    public static func render(_ text: String, _ subject: AutomationSubject) -> String {
        guard text.contains("{{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let path = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            switch subject.value(at: path) {
            case .string(let s)?: out += s
            case .number(let n)?: out += n
            case .bool(let b)?: out += b ? "true" : "false"
            case .array(let items)?: out += items.compactMap { $0.stringValue }.joined(separator: ", ")
            default: break
            }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}
