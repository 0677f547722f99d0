import Foundation
import TugboatCore

/// A five-field cron expression (`minute hour day-of-month month day-of-week`) as Vixie cron reads
/// it: `*`, lists, ranges, steps, month and day names, 0 or 7 for Sunday; when both day fields are
/// restricted a day matching either one matches.
package struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    package let description: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    package struct ParseError: Error, Equatable, CustomStringConvertible {
        package let description: String
    }

    package init(parsing text: String) throws(ParseError) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "a cron expression has five fields (minute hour day-of-month month day-of-week), got \(fields.count)")
        }
        description = fields.joined(separator: " ")
        minutes = try Self.field(fields[0], "minute", 0...59, names: [:])
        hours = try Self.field(fields[1], "hour", 0...23, names: [:])
        daysOfMonth = try Self.field(fields[2], "day-of-month", 1...31, names: [:])
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames)
        let weekdays = try Self.field(fields[4], "day-of-week", 0...7, names: Self.dayNames)
        daysOfWeek = Set(weekdays.map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
    }

    static let monthNames = ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
    static let dayNames = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String: Int]) throws(ParseError) -> Set<Int> {
        func value(_ token: Substring) throws(ParseError) -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let named = names[token.uppercased()] { return named }
            throw ParseError(description: "\(name) '\(token)' is not in \(range.lowerBound)-\(range.upperBound)")
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2, !stepParts[0].isEmpty else { throw ParseError(description: "\(name) '\(part)' is malformed") }
            var step = 1
            if stepParts.count == 2 {
                guard let parsed = Int(stepParts[1]), parsed > 0 else { throw ParseError(description: "\(name) step '\(stepParts[1])' must be a positive number") }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if stepParts[0] == "*" {
                bounds = range
            } else {
                let ends = stepParts[0].split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2 else { throw ParseError(description: "\(name) '\(part)' is malformed") }
                let low = try value(ends[0])
                let high = ends.count == 2 ? try value(ends[1]) : (stepParts.count == 2 ? range.upperBound : low)
                guard low <= high else { throw ParseError(description: "\(name) range '\(stepParts[0])' runs backwards") }
                bounds = low...high
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// Whether the calendar day (in the calendar's time zone) can hold a match.
    func matchesDay(_ components: DateComponents) -> Bool {
        guard let month = components.month, months.contains(month), let day = components.day, let weekday = components.weekday else { return false }
        let domMatch = daysOfMonth.contains(day)
        let dowMatch = daysOfWeek.contains(weekday - 1)
        if dayOfMonthRestricted && dayOfWeekRestricted { return domMatch || dowMatch }
        return domMatch && dowMatch
    }

    /// The matches (start times) of every day from `start`'s day to `end`'s, ascending, at most `limit`.
    package func matches(from start: Date, through end: Date, timeZone: TimeZone, limit: Int = 100_000) -> [Date] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var result: [Date] = []
        var day = calendar.startOfDay(for: start)
        while day <= end, result.count < limit {
            let components = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if matchesDay(components) {
                for hour in hours.sorted() {
                    for minute in minutes.sorted() {
                        var at = components
                        at.hour = hour
                        at.minute = minute
                        // A time skipped by a daylight-saving change does not exist that day.
                        guard let date = calendar.date(from: at), calendar.component(.hour, from: date) == hour else { continue }
                        if date >= start, date <= end { result.append(date) }
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = next
        }
        return Array(result.prefix(limit))
    }

    /// The latest match `m` with `date - duration < m <= date`: the window opened at `m` is open at `date`.
    package func lastMatch(atOrBefore date: Date, within duration: Duration, timeZone: TimeZone) -> Date? {
        let earliest = date.addingTimeInterval(-duration.seconds)
        return matches(from: earliest.addingTimeInterval(0.001), through: date, timeZone: timeZone).last
    }
}
