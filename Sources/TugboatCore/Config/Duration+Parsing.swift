/// Parses durations written the way operators write them: `500ms`, `2s`, `5m`, `1h30m`, `0s`.
package enum DurationParser {
    /// The longest duration the config takes: ten years (a longer one could overflow the clock).
    package static let longest: Duration = .seconds(3650 * 86_400)

    /// Returns nil when `text` is not a duration or is longer than ``longest``.
    package static func parse(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("us", 1_000), ("ns", 1), ("s", 1_000_000_000),
                                        ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000)]
        var rest = Substring(text.trimmingCharacters(in: " "))
        guard !rest.isEmpty else { return nil }
        var nanoseconds: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            nanoseconds += value * Double(unit.1)
            guard nanoseconds <= Double(longest.nanoseconds) else { return nil }
        }
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }

    /// Formats a duration the way the config accepts it back (`1.5s`, `250ms`).
    package static func format(_ duration: Duration) -> String {
        let ns = duration.nanoseconds
        if ns == 0 { return "0s" }
        if ns % 3_600_000_000_000 == 0 { return "\(ns / 3_600_000_000_000)h" }
        if ns % 60_000_000_000 == 0 { return "\(ns / 60_000_000_000)m" }
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        return "\(Double(ns) / 1e9)s"
    }
}

extension Duration {
    /// Whole nanoseconds of the duration (saturating).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }

    /// Whole milliseconds of the duration.
    package var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// The duration in seconds as a floating-point number.
    package var seconds: Double { Double(nanoseconds) / 1e9 }
}

extension String {
    /// Without `set` at either end (a config value's surrounding spaces).
    package func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
