import Foundation

/// Normalises and validates incoming values for a field kind; errors name the field.
public enum FieldValues {
    public static func normalize(_ value: JSONValue, kind: FieldKind, field: String, currency: String, into v: inout Validator) -> JSONValue? {
        switch kind {
        case .text(let max):
            guard case .string(let s) = value else { return typeError(field, "a string", &v) }
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.count > max {
                v.add(field, "too_long", "\(field) must be at most \(max) characters.")
                return nil
            }
            return t.isEmpty ? .null : .string(t)
        case .email:
            guard case .string(let s) = value else { return typeError(field, "a string", &v) }
            if s.trimmingCharacters(in: .whitespaces).isEmpty { return .null }
            guard let e = Normalize.email(s) else {
                v.add(field, "invalid_format", "\(field) is not a valid e-mail address.")
                return nil
            }
            return .string(e)
        case .phone:
            guard case .string(let s) = value else { return typeError(field, "a string", &v) }
            if s.trimmingCharacters(in: .whitespaces).isEmpty { return .null }
            guard let p = Phone.normalize(s) else {
                v.add(field, "invalid_format", "\(field) is not a possible phone number.")
                return nil
            }
            return .string(p)
        case .url:
            guard case .string(let s) = value else { return typeError(field, "a string", &v) }
            let t = s.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { return .null }
            guard t.count <= 2048, let u = URL(string: t), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), u.host != nil else {
                v.add(field, "invalid_format", "\(field) must be an http(s) URL.")
                return nil
            }
            return .string(t)
        case .domain:
            guard case .string(let s) = value else { return typeError(field, "a string", &v) }
            if s.trimmingCharacters(in: .whitespaces).isEmpty { return .null }
            guard let d = Domain.normalize(s) else {
                v.add(field, "invalid_format", "\(field) is not a valid domain.")
                return nil
            }
            return .string(d)
        case .enumeration(let allowed):
            guard case .string(let s) = value else { return typeError(field, "a string", &v) }
            guard allowed.contains(s) else {
                v.add(field, "invalid_value", "\(field) must be one of: \(allowed.joined(separator: ", ")).")
                return nil
            }
            return .string(s)
        case .bool:
            guard case .bool = value else { return typeError(field, "a boolean", &v) }
            return value
        case .integer(let min, let max):
            guard case .number(let n) = value, let i = Int64(n), i >= min, i <= max else {
                v.add(field, "invalid_value", "\(field) must be an integer from \(min) to \(max).")
                return nil
            }
            return .number(String(i))
        case .money:
            guard case .number(let n) = value else { return typeError(field, "a number", &v) }
            guard let minor = Money.minorUnits(n, currency: currency) else {
                let refusal = Money.refusal(n, currency: currency, subject: field)
                v.add(field, refusal.code, refusal.message)
                return nil
            }
            if minor < 0 {
                v.add(field, "negative", "\(field) must not be negative.")
                return nil
            }
            return .number(Money.format(minor, currency: currency))
        case .identifier:
            guard case .string(let s) = value else { return typeError(field, "an id", &v) }
            guard s.count <= 64, s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                v.add(field, "not_found", "\(field) does not name an existing record.")
                return nil
            }
            return .string(s)
        case .links:
            guard case .array = value else { return typeError(field, "an array", &v) }
            return value
        case .probability:
            guard case .number(let n) = value, let bp = Probability.basisPoints(n) else {
                v.add(field, "out_of_range", "\(field) must be a number from 0 to 1 with at most 4 decimals.")
                return nil
            }
            return .number(Probability.format(bp))
        case .date:
            guard case .string(let s) = value, s.count == 10, Timestamp.parse(s) != nil else {
                v.add(field, "invalid_format", "\(field) must be a date YYYY-MM-DD.")
                return nil
            }
            return .string(s)
        case .datetime:
            guard case .string(let s) = value, let d = Timestamp.parse(s) else {
                v.add(field, "invalid_format", "\(field) must be an RFC 3339 date-time.")
                return nil
            }
            return .string(Timestamp.format(d))
        case .reference(let prefix):
            guard case .string(let s) = value else { return typeError(field, "an id", &v) }
            guard s.hasPrefix(prefix.rawValue + "_"), ULID.isValid(s.dropFirst(prefix.rawValue.count + 1)) else {
                v.add(field, "not_found", "\(field) does not name an existing \(prefix.rawValue)_ record.")
                return nil
            }
            return .string(s)
        case .address:
            guard case .object(let o) = value else { return typeError(field, "an object", &v) }
            let keys = ["line1", "line2", "city", "region", "postal_code", "country"]
            var out: [String: JSONValue] = [:]
            for (k, val) in o {
                guard keys.contains(k) else {
                    v.add("\(field).\(k)", "unknown_field", "Unknown field \(field).\(k).")
                    continue
                }
                if val == .null { continue }
                guard case .string(let s) = val else {
                    v.add("\(field).\(k)", "invalid_type", "\(field).\(k) must be a string.")
                    continue
                }
                let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
                if t.count > 200 { v.add("\(field).\(k)", "too_long", "\(field).\(k) must be at most 200 characters.") }
                if !t.isEmpty { out[k] = .string(t) }
            }
            return out.isEmpty ? .null : .object(out)
        }
    }

    static func typeError(_ field: String, _ expected: String, _ v: inout Validator) -> JSONValue? {
        v.add(field, "invalid_type", "\(field) must be \(expected).")
        return nil
    }
}

public enum Phone {
    public static func digits(_ s: String) -> String { s.filter { $0.isASCII && $0.isNumber } }

    /// Strips formatting; `+` or `00` with 8–15 digits becomes E.164; other digit strings are kept trimmed;
    /// no digits at all, or more than 15, is not a phone number.
    public static func normalize(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let stripped = trimmed.filter { !" -.()\t".contains($0) }
        let digits = stripped.filter(\.isASCII).filter(\.isNumber)
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        if stripped.hasPrefix("+") {
            let rest = stripped.dropFirst()
            if rest.allSatisfy({ $0.isASCII && $0.isNumber }), (8...15).contains(rest.count) { return "+" + rest }
        } else if stripped.hasPrefix("00") {
            let rest = stripped.dropFirst(2)
            if rest.allSatisfy({ $0.isASCII && $0.isNumber }), (8...15).contains(rest.count) { return "+" + rest }
        }
        guard trimmed.count <= 50 else { return nil }
        return trimmed
    }
}

public enum Domain {
    /// The longest input read: a URL to take the domain from may be long, but not unbounded (as `website`).
    public static let maxInputLength = 2048

    /// `https://www.Acme.com/path` → `acme.com`.
    public static func normalize(_ raw: String) -> String? {
        guard raw.count <= maxInputLength else { return nil }
        var s = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if let r = s.range(of: "://") { s = String(s[r.upperBound...]) }
        if let slash = s.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { s = String(s[..<slash]) }
        if let at = s.lastIndex(of: "@") { s = String(s[s.index(after: at)...]) }
        if let colon = s.firstIndex(of: ":") { s = String(s[..<colon]) }
        if s.hasSuffix(".") { s.removeLast() }
        if s.hasPrefix("www.") { s = String(s.dropFirst(4)) }
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        guard s.count <= 253, labels.count >= 2,
              labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 && !$0.hasPrefix("-") && !$0.hasSuffix("-")
                  && $0.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "-") } }),
              let tld = labels.last, tld.contains(where: \.isLetter)
        else { return nil }
        return s
    }
}

public enum Probability {
    public static func basisPoints(_ text: String) -> Int64? {
        guard let d = Decimal(string: text), d >= 0, d <= 1 else { return nil }
        var scaled = d * 10_000
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        guard rounded == d * 10_000 else { return nil }
        return Int64(NSDecimalNumber(decimal: rounded).stringValue)
    }

    public static func format(_ bp: Int64) -> String {
        trimmed(bp)
    }

    static func trimmed(_ bp: Int64) -> String {
        var s = String(bp)
        while s.count < 5 { s = "0" + s }
        let whole = String(s.prefix(s.count - 4)), fraction = String(s.suffix(4))
        var f = fraction
        while f.hasSuffix("0") { f.removeLast() }
        return f.isEmpty ? whole : "\(whole).\(f)"
    }
}

public enum Money {
    /// Why `minorUnits` refused an amount: beyond the storable range (about ±9e15 minor units) → `out_of_range`,
    /// otherwise more decimals than the currency has → `invalid_precision`. `subject` starts the message.
    public static func refusal(_ text: String, currency: String, subject: String) -> (code: String, message: String) {
        let digits = Currency.minorUnits[currency] ?? 2
        var limit = 9e15
        for _ in 0..<digits { limit /= 10 }
        if let d = Double(text), d.isFinite, abs(d) < limit {
            return ("invalid_precision", "\(subject) has more decimals than \(currency) allows.")
        }
        return ("out_of_range", "\(subject) is too large.")
    }

    /// Exact conversion of a JSON number's text to minor units; nil when it has more decimals than the currency allows.
    public static func minorUnits(_ text: String, currency: String) -> Int64? {
        let digits = Currency.minorUnits[currency] ?? 2
        guard let d = Decimal(string: text), d.isFinite else { return nil }
        var scaled = d
        for _ in 0..<digits { scaled *= 10 }
        var rounded = Decimal()
        var copy = scaled
        NSDecimalRound(&rounded, &copy, 0, .plain)
        guard rounded == scaled, abs(NSDecimalNumber(decimal: rounded).doubleValue) < 9e15 else { return nil }
        return Int64(NSDecimalNumber(decimal: rounded).stringValue)
    }

    /// Minor units back to a major-unit decimal string (`1234` USD → `12.34`).
    public static func format(_ minor: Int64, currency: String) -> String {
        let digits = Currency.minorUnits[currency] ?? 2
        guard digits > 0 else { return String(minor) }
        let negative = minor < 0
        var s = String(minor.magnitude)
        while s.count <= digits { s = "0" + s }
        let cut = s.index(s.endIndex, offsetBy: -digits)
        var frac = String(s[cut...])
        while frac.hasSuffix("0") { frac.removeLast() }
        let whole = String(s[..<cut])
        return (negative ? "-" : "") + (frac.isEmpty ? whole : whole + "." + frac)
    }
}
