import Foundation
import KeelCore
import NIOCore

/// A request body type whose keys are known, so unknown keys are refused (422) rather than silently ignored.
protocol StrictDecodable: Decodable, Sendable {
    static var allowedKeys: Set<String> { get }
    /// Keys whose values are objects checked for unknown keys too.
    static var nestedKeys: [String: Set<String>] { get }
}

extension StrictDecodable {
    static var nestedKeys: [String: Set<String>] { [:] }
}

/// A PATCH field: absent, explicitly `null` (clear it), or a value.
enum PatchField<T: Decodable & Sendable>: Sendable, Decodable {
    case absent
    case null
    case value(T)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        self = c.decodeNil() ? .null : .value(try c.decode(T.self))
    }

    var value: T? { if case .value(let v) = self { v } else { nil } }
    var isAbsent: Bool { if case .absent = self { true } else { false } }

    /// For fields that cannot be cleared: `null` is a 422 naming the field.
    func required(_ field: String) throws -> T? {
        switch self {
        case .absent: return nil
        case .null: throw APIError.validation(field, "not_nullable", "\(field) cannot be null.")
        case .value(let v): return v
        }
    }
}

extension KeyedDecodingContainer {
    func decode<T>(_ type: PatchField<T>.Type, forKey key: Key) throws -> PatchField<T> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(T.self, forKey: key))
    }
}

enum StrictJSON {
    static func decode<T: StrictDecodable>(_ type: T.Type, from data: Data) throws -> T {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw APIError.badRequest("The request body is not valid JSON.")
        }
        guard let dict = object as? [String: Any] else {
            throw APIError.validation("body", "invalid_type", "The request body must be a JSON object.")
        }
        try rejectNUL(in: dict)
        var details: [ErrorDetail] = []
        for key in dict.keys.sorted() where !T.allowedKeys.contains(key) {
            details.append(ErrorDetail(field: key, code: "unknown_field", message: "Unknown field \(key)."))
        }
        for (key, allowed) in T.nestedKeys {
            guard let nested = dict[key] as? [String: Any] else { continue }
            for inner in nested.keys.sorted() where !allowed.contains(inner) {
                details.append(ErrorDetail(field: "\(key).\(inner)", code: "unknown_field", message: "Unknown field \(key).\(inner)."))
            }
        }
        if !details.isEmpty { throw APIError(.validationFailed, "The request has unknown fields.", details: details) }
        do {
            return try KeelJSON.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw map(error)
        }
    }

    /// U+0000 in a string or key of a body is 422 naming the field: PostgreSQL cannot store it in text, no Keel field has a
    /// use for it, and refusing it on both databases keeps them alike.
    static func rejectNUL(in object: Any) throws {
        if let field = nulPath(object, "") { throw nulError(field) }
    }

    /// JSON text can carry U+0000 only as the escape `\u0000` (a raw NUL byte is not valid JSON, but is counted too): a body
    /// without either holds no NUL, and needs no walk over its values (which built a path string for every key).
    static func mayContainNUL(_ body: ByteBuffer) -> Bool {
        body.withUnsafeReadableBytes { bytes in
            guard bytes.count >= 6 else { return bytes.contains(0) }
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == 0 { return true }
                if b == 92, i + 5 < bytes.count, bytes[i + 1] == 117, bytes[i + 2] == 48, bytes[i + 3] == 48, bytes[i + 4] == 48,
                   bytes[i + 5] == 48 {
                    return true
                }
                i += 1
            }
            return false
        }
    }

    static func rejectNUL(in value: JSONValue) throws {
        if let field = nulPath(value, "") { throw nulError(field) }
    }

    static func nulError(_ raw: String) -> APIError {
        let field = raw.replacingOccurrences(of: "\u{0}", with: "\\u0000")
        return .validation(field, "invalid_characters", "\(field) must not contain NUL (U+0000) characters.")
    }

    private static func child(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : "\(parent).\(key)" }

    /// A JSON node as the NUL search sees it, so one walk serves both JSONSerialization's `Any` and `JSONValue`.
    private enum Shape<Node> {
        case string(String)
        case array([Node])
        case object([String: Node])
        case other
    }

    private static func shape(_ object: Any) -> Shape<Any> {
        switch object {
        case let s as String: .string(s)
        case let a as [Any]: .array(a)
        case let o as [String: Any]: .object(o)
        default: .other
        }
    }

    private static func shape(_ value: JSONValue) -> Shape<JSONValue> {
        switch value {
        case .string(let s): .string(s)
        case .array(let a): .array(a)
        case .object(let o): .object(o)
        default: .other
        }
    }

    private static func nulPath(_ object: Any, _ at: String) -> String? { nulPath(object, at, shape) }

    private static func nulPath(_ value: JSONValue, _ at: String) -> String? { nulPath(value, at, shape) }

    private static func nulPath<Node>(_ node: Node, _ at: String, _ shape: (Node) -> Shape<Node>) -> String? {
        switch shape(node) {
        case .string(let s):
            return s.contains("\u{0}") ? (at.isEmpty ? "body" : at) : nil
        case .array(let items):
            for (i, item) in items.enumerated() {
                if let found = nulPath(item, "\(at)[\(i)]", shape) { return found }
            }
            return nil
        case .object(let o):
            for key in o.keys.sorted() {
                if key.contains("\u{0}") { return child(at, key) }
                if let inner = o[key], let found = nulPath(inner, child(at, key), shape) { return found }
            }
            return nil
        case .other:
            return nil
        }
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out.isEmpty ? "body" : out
    }

    static func map(_ error: DecodingError) -> APIError {
        switch error {
        case .typeMismatch(let type, let ctx):
            let field = path(ctx.codingPath)
            return .validation(field, "invalid_type", "\(field) has the wrong type (expected \(describe(type))).")
        case .valueNotFound(_, let ctx):
            let field = path(ctx.codingPath)
            return .validation(field, "required", "\(field) must not be null.")
        case .keyNotFound(let key, let ctx):
            let field = path(ctx.codingPath + [key])
            return .validation(field, "required", "\(field) is required.")
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty { return .badRequest("The request body is not valid JSON.") }
            let field = path(ctx.codingPath)
            return .validation(field, "invalid_value", "\(field) is invalid: \(ctx.debugDescription)")
        @unknown default:
            return .validation("body", "invalid", "The request body is invalid.")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.contains("String") { return "string" }
        if name.contains("Int") || name.contains("Double") || name.contains("Decimal") { return "number" }
        if name.contains("Bool") { return "boolean" }
        if name.contains("Array") { return "array" }
        if name.contains("Dictionary") { return "object" }
        return "a different type"
    }
}
