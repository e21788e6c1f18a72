import Foundation

public enum Normalize {
    /// Trims and lower-cases an e-mail; returns nil when it is not a plausible address.
    public static func email(_ raw: String) -> String? {
        raw.utf8.allSatisfy({ $0 < 0x80 }) ? asciiEmail(raw) : unicodeEmail(raw)
    }

    /// The same rules over bytes, for ASCII input (nearly every address): the Character-level checks of `unicodeEmail`
    /// were 1 % of a contact create. For ASCII, whitespace is 0x09–0x0D and space, letters are A–Z and a–z, numbers 0–9.
    static func asciiEmail(_ raw: String) -> String? {
        let bytes = Array(raw.utf8)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        var start = 0, end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        guard end - start <= 254 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var at: Int?
        for var b in bytes[start..<end] {
            if isSpace(b) { return nil }
            if b >= 0x41 && b <= 0x5A { b += 0x20 }
            if b == 0x40 {
                if at != nil { return nil }
                at = out.count
            }
            out.append(b)
        }
        guard let at, at > 0, at <= 64 else { return nil }
        var labels = 0, labelStart = at + 1
        for i in (at + 1)...out.count {
            if i == out.count || out[i] == 0x2E {
                guard i > labelStart, out[labelStart] != 0x2D, out[i - 1] != 0x2D else { return nil }
                labels += 1
                labelStart = i + 1
            } else {
                let b = out[i]
                guard (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D else { return nil }
            }
        }
        guard labels >= 2 else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    static func unicodeEmail(_ raw: String) -> String? {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard email.utf8.count <= 254, !email.contains(where: { $0.isWhitespace }) else { return nil }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return nil }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }),
              domain.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else { return nil }
        return email
    }

    /// Trimmed text within a length limit (counted in characters).
    public static func text(_ raw: String, field: String, min: Int = 1, max: Int, into v: inout Validator) -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count < min {
            v.add(field, "required", "\(field) must not be empty.")
        } else if trimmed.count > max {
            v.add(field, "too_long", "\(field) must be at most \(max) characters.")
        }
        return trimmed
    }

    public static func password(_ raw: String, field: String = "password", into v: inout Validator) {
        if raw.count < 8 {
            v.add(field, "too_short", "\(field) must be at least 8 characters.")
        } else if raw.utf8.count > 72 {
            // bcrypt only reads 72 bytes; accepting more would silently ignore the rest.
            v.add(field, "too_long", "\(field) must be at most 72 bytes.")
        }
    }

    public static func timezone(_ raw: String) -> String? {
        TimeZone(identifier: raw) != nil ? raw : nil
    }
}

/// ISO 4217 currencies with their minor-unit digits.
public enum Currency {
    public static let minorUnits: [String: Int] = [
        "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2,
        "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0,
        "JOD": 3, "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2,
        "OMR": 3, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "SAR": 2, "SEK": 2,
        "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "UYU": 2, "VND": 0, "XAF": 0, "XOF": 0,
        "ZAR": 2,
    ]

    public static func isValid(_ code: String) -> Bool { minorUnits[code] != nil }
}
