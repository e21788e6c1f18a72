import Foundation

/// Five-field cron (`minute hour day-of-month month day-of-week`) evaluated in a time zone.
/// Fields take `*`, numbers, `a-b`, lists and `/step`; day-of-week 0–7 (0 and 7 are Sunday).
/// As in Vixie cron, when both day fields are restricted a day matching either fires.
public struct CronSchedule: Sendable, Equatable {
    let minutes: Set<Int>
    let hours: Set<Int>
    let days: Set<Int>
    let months: Set<Int>
    let weekdays: Set<Int>
    let dayRestricted: Bool
    let weekdayRestricted: Bool

    public struct Invalid: Error, Sendable { public let message: String }

    public init(_ text: String) throws {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else { throw Invalid(message: "cron needs five fields: minute hour day-of-month month day-of-week.") }
        minutes = try CronSchedule.field(parts[0], 0...59, "minute")
        hours = try CronSchedule.field(parts[1], 0...23, "hour")
        days = try CronSchedule.field(parts[2], 1...31, "day-of-month")
        months = try CronSchedule.field(parts[3], 1...12, "month")
        weekdays = Set(try CronSchedule.field(parts[4], 0...7, "day-of-week").map { $0 % 7 })
        dayRestricted = parts[2] != "*"
        weekdayRestricted = parts[4] != "*"
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, _ name: String) throws -> Set<Int> {
        var out = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw Invalid(message: "Bad \(name) field: \(text).") }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s > 0 else { throw Invalid(message: "Bad step in \(name) field: \(text).") }
                step = s
            }
            let base = stepParts[0]
            var low = range.lowerBound, high = range.upperBound
            if base != "*" {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(bounds.count), let a = Int(bounds[0]), let b = Int(bounds[bounds.count - 1]) else {
                    throw Invalid(message: "Bad \(name) field: \(text).")
                }
                low = a
                high = bounds.count == 2 ? b : (stepParts.count == 2 ? range.upperBound : a)
            }
            guard range.contains(low), range.contains(high), low <= high else { throw Invalid(message: "\(name) must be within \(range.lowerBound)-\(range.upperBound).") }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayRestricted, weekdayRestricted) {
        case (true, true): days.contains(day) || weekdays.contains(weekday)
        case (true, false): days.contains(day)
        case (false, true): weekdays.contains(weekday)
        case (false, false): true
        }
    }

    /// The first firing strictly after `date`, within the next five years (nil when the expression never fires, e.g. 31 February).
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard let startMinute = calendar.date(bySetting: .second, value: 0, of: date).flatMap({ calendar.dateInterval(of: .minute, for: $0)?.start }) else {
            return nil
        }
        var dayStart = calendar.startOfDay(for: startMinute)
        for _ in 0..<(366 * 5) {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: dayStart)
            if let month = c.month, let day = c.day, let weekday = c.weekday, months.contains(month), dayMatches(day: day, weekday: weekday - 1) {
                for hour in hours.sorted() {
                    for minute in minutes.sorted() {
                        var dc = DateComponents()
                        dc.year = c.year; dc.month = month; dc.day = day; dc.hour = hour; dc.minute = minute
                        // A wall-clock time skipped by a DST change does not exist; Calendar would shift it, so check it round-trips.
                        guard let candidate = calendar.date(from: dc), calendar.component(.hour, from: candidate) == hour,
                              calendar.component(.minute, from: candidate) == minute else { continue }
                        if candidate > date { return candidate }
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: dayStart) else { return nil }
            dayStart = calendar.startOfDay(for: next)
        }
        return nil
    }
}
