import Foundation

/// Keel stores instants as integer milliseconds since the epoch (portable and sortable on both databases)
/// and shows them as RFC 3339 UTC with milliseconds.
public enum Timestamp {
    /// Whole milliseconds, rounded down; a value within a microsecond of a whole millisecond is that millisecond, since a
    /// parsed `.259` before 1970 comes out of binary floating point as `.25899999…` and must not render back as `.258`.
    public static func millis(_ date: Date) -> Int64 {
        let scaled = date.timeIntervalSince1970 * 1000
        let nearest = scaled.rounded()
        return Int64(abs(scaled - nearest) < 0.001 ? nearest : scaled.rounded(.down))
    }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    public static func format(_ date: Date) -> String {
        format(millis: millis(date))
    }

    public static func format(millis: Int64) -> String {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - seconds * 1000)
        let (y, mo, d) = civil(fromDays: Int(floorDiv(seconds, 86_400)))
        let secOfDay = Int(seconds - floorDiv(seconds, 86_400) * 86_400)
        let h = secOfDay / 3600, mi = (secOfDay % 3600) / 60, s = secOfDay % 60
        guard (0...9999).contains(y) else {
            return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
        }
        // Written into 24 bytes: a record renders three or four of these, and interpolation made a string per piece.
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ v: Int, _ width: Int, at index: Int) {
                var v = v
                for k in stride(from: index + width - 1, through: index, by: -1) {
                    out[k] = UInt8(48 + v % 10)
                    v /= 10
                }
            }
            put(y, 4, at: 0); out[4] = 45; put(mo, 2, at: 5); out[7] = 45; put(d, 2, at: 8); out[10] = 84
            put(h, 2, at: 11); out[13] = 58; put(mi, 2, at: 14); out[16] = 58; put(s, 2, at: 17); out[19] = 46
            put(ms, 3, at: 20); out[23] = 90
            return 24
        }
    }

    /// Parses RFC 3339 date-times (any offset, optional fraction) and plain `YYYY-MM-DD` dates (midnight UTC).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= bytes.count else { return nil }
            var v = 0
            for b in bytes[from..<(from + len)] {
                guard b >= 48, b <= 57 else { return nil }
                v = v * 10 + Int(b - 48)
            }
            return v
        }
        guard let y = num(0, 4), bytes.count >= 10, bytes[4] == 45, let mo = num(5, 2), bytes[7] == 45, let d = num(8, 2),
              (1...12).contains(mo), (1...daysIn(month: mo, year: y)).contains(d) else { return nil }
        let dayNumber = days(fromCivil: y, mo, d)
        if bytes.count == 10 { return Date(timeIntervalSince1970: Double(dayNumber) * 86_400) }
        guard bytes.count >= 20, bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32,
              let h = num(11, 2), bytes[13] == 58, let mi = num(14, 2), bytes[16] == 58, let s = num(17, 2),
              h < 24, mi < 60, s < 61 else { return nil }
        var i = 19
        var fraction = 0.0
        if i < bytes.count, bytes[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                fraction += Double(bytes[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < bytes.count else { return nil }
        var offset = 0
        if bytes[i] == 90 || bytes[i] == 122 {
            guard i + 1 == bytes.count else { return nil }
        } else if bytes[i] == 43 || bytes[i] == 45 {
            guard i + 6 == bytes.count, let oh = num(i + 1, 2), bytes[i + 3] == 58, let om = num(i + 4, 2), oh < 24, om < 60 else {
                return nil
            }
            offset = (oh * 3600 + om * 60) * (bytes[i] == 43 ? 1 : -1)
        } else {
            return nil
        }
        let total = Double(dayNumber) * 86_400 + Double(h * 3600 + mi * 60 + s - offset) + fraction
        return Date(timeIntervalSince1970: total)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's civil-from-days algorithms.
    static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

/// Time source, injectable so expiry rules are testable.
public protocol KeelClock: Sendable {
    func now() -> Date
}

public struct SystemClock: KeelClock {
    public init() {}
    public func now() -> Date { Date() }
}
