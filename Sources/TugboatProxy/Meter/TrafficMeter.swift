import Histogram

/// Counts requests on one event loop; the collector takes and resets it once a second.
/// Recording allocates nothing.
struct TrafficMeter {
    /// Per backend slot: requests by status class (index 0 = 1xx … 4 = 5xx) and a latency histogram.
    struct Row {
        var byClass: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        var latency = TrafficMeter.makeHistogram()
    }

    /// Requests answered by the proxy itself (no backend: 503 none healthy, 502 after failed retries, 4xx).
    var local = Row()
    var rows: [Row] = []

    static func makeHistogram() -> Histogram<UInt64> {
        // Microseconds, 1 µs to 10 minutes, 2 significant digits: small and fast to merge.
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .two)
    }

    @inline(__always)
    mutating func record(slot: Int?, status: Int, micros: UInt64) {
        if let slot {
            if slot >= rows.count { rows.append(contentsOf: repeatElement(Row(), count: slot - rows.count + 1)) }
            Self.record(&rows[slot], status: status, micros: micros)
        } else {
            Self.record(&local, status: status, micros: micros)
        }
    }

    @inline(__always)
    private static func record(_ row: inout Row, status: Int, micros: UInt64) {
        switch status {
        case ..<200: row.byClass.0 &+= 1
        case ..<300: row.byClass.1 &+= 1
        case ..<400: row.byClass.2 &+= 1
        case ..<500: row.byClass.3 &+= 1
        default: row.byClass.4 &+= 1
        }
        _ = row.latency.record(max(1, min(micros, 600_000_000)))
    }

    mutating func merge(_ other: TrafficMeter) {
        local.add(other.local)
        if other.rows.count > rows.count {
            rows.append(contentsOf: repeatElement(Row(), count: other.rows.count - rows.count))
        }
        for (slot, row) in other.rows.enumerated() where row.total > 0 {
            rows[slot].add(row)
        }
    }

    /// Returns what was counted since the last call and starts afresh.
    mutating func take() -> TrafficMeter {
        let taken = self
        self = TrafficMeter()
        return taken
    }
}

extension TrafficMeter.Row {
    var total: UInt64 { byClass.0 + byClass.1 + byClass.2 + byClass.3 + byClass.4 }
    var classes: [UInt64] { [byClass.0, byClass.1, byClass.2, byClass.3, byClass.4] }

    mutating func add(_ other: TrafficMeter.Row) {
        byClass.0 += other.byClass.0
        byClass.1 += other.byClass.1
        byClass.2 += other.byClass.2
        byClass.3 += other.byClass.3
        byClass.4 += other.byClass.4
        if other.latency.totalCount > 0 { latency.add(other.latency) }
    }
}
