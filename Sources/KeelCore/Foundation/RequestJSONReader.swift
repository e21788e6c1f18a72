/// Reads the common request body (an object or array of strings, small integers, booleans and nulls) straight into a
/// `JSONValue`; Foundation's `JSONDecoder` cost a create about 3.5 % of its CPU for the same work.
///
/// It accepts only a strict subset of JSON on which its result is, by construction, what `JSONDecoder` gives, and answers
/// nil for anything else (any other number form, a surrogate escape, a control character, invalid UTF-8, a repeated key,
/// deep nesting, a top-level scalar, a byte order mark), which the caller hands to `JSONDecoder`: odd and invalid bodies
/// keep exactly the answers they had.
public enum RequestJSONReader {
    static let maxDepth = 256

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        guard reader.i < bytes.count, bytes[reader.i] == 0x7B || bytes[reader.i] == 0x5B, let value = reader.value(depth: 0) else {
            return nil
        }
        reader.skipSpace()
        return reader.i == bytes.count ? value : nil
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count {
                let b = bytes[i]
                guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
                i += 1
            }
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < RequestJSONReader.maxDepth, i < bytes.count else { return nil }
            switch bytes[i] {
            case 0x7B: return object(depth: depth + 1)
            case 0x5B: return array(depth: depth + 1)
            case 0x22: return string().map(JSONValue.string)
            case 0x74: return word("true", .bool(true))
            case 0x66: return word("false", .bool(false))
            case 0x6E: return word("null", .null)
            default: return integer()
            }
        }

        mutating func word(_ text: StaticString, _ value: JSONValue) -> JSONValue? {
            let count = text.utf8CodeUnitCount
            guard i + count <= bytes.count else { return nil }
            for k in 0..<count where bytes[i + k] != text.utf8Start[k] { return nil }
            i += count
            return value
        }

        /// `-?(0|[1-9][0-9]{0,17})`, which `JSONDecoder` reads as a `Decimal` and `JSONValue` writes back as the same text.
        /// Fractions, exponents, `-0` and longer integers are left to it.
        mutating func integer() -> JSONValue? {
            let start = i
            if bytes[i] == 0x2D { i += 1 }
            let digitsStart = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            let digits = i - digitsStart
            guard digits >= 1, digits <= 18 else { return nil }
            if bytes[digitsStart] == 0x30 && (digits > 1 || digitsStart > start) { return nil }
            if i < bytes.count {
                let b = bytes[i]
                guard b == 0x2C || b == 0x7D || b == 0x5D || b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return nil }
            }
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
        }

        mutating func hex4() -> UInt32? {
            guard let v = FastJSONParser.hex4(bytes, at: i) else { return nil }
            i += 4
            return v
        }

        mutating func string() -> String? {
            i += 1
            let start = i
            var ascii = true
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x22 {
                    let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
                    i += 1
                    return ascii ? String(decoding: raw, as: UTF8.self) : String(validating: raw, as: UTF8.self)
                }
                if b == 0x5C { return escaped(from: start) }
                if b < 0x20 { return nil }
                if b >= 0x80 { ascii = false }
                i += 1
            }
            return nil
        }

        /// The rest of a string that holds an escape, from its first byte.
        mutating func escaped(from start: Int) -> String? {
            var out = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x22 {
                    i += 1
                    return String(validating: out, as: UTF8.self)
                }
                if b < 0x20 { return nil }
                i += 1
                guard b == 0x5C else { out.append(b); continue }
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    guard let code = hex4(), !(0xD800...0xDFFF).contains(code), let scalar = Unicode.Scalar(code) else { return nil }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                default: return nil
                }
            }
            return nil
        }

        mutating func array(depth: Int) -> JSONValue? {
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == 0x5D { i += 1; return .array(items) }
            while true {
                skipSpace()
                guard let v = value(depth: depth) else { return nil }
                items.append(v)
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == 0x2C { i += 1; continue }
                if bytes[i] == 0x5D { i += 1; return .array(items) }
                return nil
            }
        }

        mutating func object(depth: Int) -> JSONValue? {
            i += 1
            var o: [String: JSONValue] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == 0x7D { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x22, let key = string() else { return nil }
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x3A else { return nil }
                i += 1
                skipSpace()
                guard let v = value(depth: depth), o.updateValue(v, forKey: key) == nil else { return nil }
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == 0x2C { i += 1; continue }
                if bytes[i] == 0x7D { i += 1; return .object(o) }
                return nil
            }
        }
    }
}
