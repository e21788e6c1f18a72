import Foundation

/// A JSON value kept exactly as sent (numbers keep their text so money is never rounded through a Double).
public enum JSONValue: Sendable, Equatable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        // Each failed attempt throws (and builds an error with its coding path), so strings, the commonest value in a
        // request body, are tried first; JSON's kinds do not overlap, so the order changes no result.
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let d = try? c.decode(Decimal.self) { self = .number(NSDecimalNumber(decimal: d).stringValue); return }
        // Foundation's decoder gives up on Decimal from about 1e128 on; such a number is still valid JSON, so keep it (as
        // the shortest text that reads back as the same Double) and let the field's own validation refuse it with a 422.
        if let d = try? c.decode(Double.self), d.isFinite { self = .number("\(d)"); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        if let o = try? c.decode([String: JSONValue].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "unsupported JSON value")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if let i = Int64(n) { try c.encode(i) } else if let d = Decimal(string: n) { try c.encode(d) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }

    public static func from<T: Encodable>(_ value: T) -> JSONValue {
        guard let data = try? KeelJSON.encoder.encode(value),
              let decoded = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .null }
        return decoded
    }

    public func jsonString() -> String {
        String(decoding: FastJSON.encode(self), as: UTF8.self)
    }

    public static func parse(_ text: String) -> JSONValue? {
        // Most stored tag lists and custom-field maps are empty.
        if text == "[]" { return .array([]) }
        if text == "{}" { return .object([:]) }
        return FastJSONParser.parse(text)
    }
}

/// The encoder every response and stored payload uses: RFC 3339 with milliseconds, sorted keys for stable bytes.
public enum KeelJSON {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Timestamp.format(date))
        }
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = Timestamp.parse(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an RFC 3339 date-time")
            }
            return date
        }
        return d
    }
}
