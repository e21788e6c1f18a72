/// A small JSON reader for stored columns (tags, custom fields, addresses): numbers keep their text exactly.
struct FastJSONParser {
    let bytes: [UInt8]
    var i = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    static func parse(_ text: String) -> JSONValue? {
        var p = FastJSONParser(text)
        guard let v = p.value() else { return nil }
        p.skipSpace()
        return p.i == p.bytes.count ? v : nil
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 10 || bytes[i] == 13 || bytes[i] == 9 { i += 1 }
    }

    mutating func literal(_ word: [UInt8], _ v: JSONValue) -> JSONValue? {
        guard i + word.count <= bytes.count, Array(bytes[i..<(i + word.count)]) == word else { return nil }
        i += word.count
        return v
    }

    mutating func value() -> JSONValue? {
        skipSpace()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case 123: return object()
        case 91: return array()
        case 34: return string().map(JSONValue.string)
        case 116: return literal([116, 114, 117, 101], .bool(true))
        case 102: return literal([102, 97, 108, 115, 101], .bool(false))
        case 110: return literal([110, 117, 108, 108], .null)
        default: return number()
        }
    }

    mutating func number() -> JSONValue? {
        let start = i
        while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == 45 || bytes[i] == 43 || bytes[i] == 46 || bytes[i] == 101 || bytes[i] == 69 {
            i += 1
        }
        guard i > start else { return nil }
        return .number(String(decoding: bytes[start..<i], as: UTF8.self))
    }

    mutating func hex4() -> UInt32? {
        guard let v = Self.hex4(bytes, at: i) else { return nil }
        i += 4
        return v
    }

    /// The four hex digits of a `\u` escape starting at `i`, for this parser and `RequestJSONReader` alike.
    static func hex4<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at i: Int) -> UInt32? where Bytes.Index == Int {
        guard i + 4 <= bytes.endIndex else { return nil }
        var v: UInt32 = 0
        for k in i..<(i + 4) {
            let b = bytes[k]
            let d: UInt32
            switch b {
            case 48...57: d = UInt32(b - 48)
            case 97...102: d = UInt32(b - 87)
            case 65...70: d = UInt32(b - 55)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    mutating func string() -> String? {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            if b == 34 {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b == 92 {
                i += 1
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case 34: out.append(34)
                case 92: out.append(92)
                case 47: out.append(47)
                case 98: out.append(8)
                case 102: out.append(12)
                case 110: out.append(10)
                case 114: out.append(13)
                case 116: out.append(9)
                case 117:
                    guard var code = hex4() else { return nil }
                    if (0xD800...0xDBFF).contains(code), i + 6 <= bytes.count, bytes[i] == 92, bytes[i + 1] == 117 {
                        i += 2
                        guard let low = hex4() else { return nil }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { return nil }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
                continue
            }
            out.append(b)
            i += 1
        }
        return nil
    }

    mutating func array() -> JSONValue? {
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == 93 { i += 1; return .array(items) }
        while true {
            guard let v = value() else { return nil }
            items.append(v)
            skipSpace()
            guard i < bytes.count else { return nil }
            if bytes[i] == 44 { i += 1; continue }
            if bytes[i] == 93 { i += 1; return .array(items) }
            return nil
        }
    }

    mutating func object() -> JSONValue? {
        i += 1
        var o: [String: JSONValue] = [:]
        skipSpace()
        if i < bytes.count, bytes[i] == 125 { i += 1; return .object(o) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == 34, let key = string() else { return nil }
            skipSpace()
            guard i < bytes.count, bytes[i] == 58 else { return nil }
            i += 1
            guard let v = value() else { return nil }
            o[key] = v
            skipSpace()
            guard i < bytes.count else { return nil }
            if bytes[i] == 44 { i += 1; continue }
            if bytes[i] == 125 { i += 1; return .object(o) }
            return nil
        }
    }
}
