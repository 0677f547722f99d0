import TugboatCore
import TugboatProxy

/// The dashboard's recent traffic, from the cumulative counters sampled once a second: per
/// backend the 5xx per second and the p99 over the last `span` samples (from the latency
/// histogram's bucket deltas, so the p99 is a bucket's upper bound), and for the whole pool the
/// last second's error rate. Pure: samples in, figures out.
struct TrafficWindow {
    struct Sample {
        var byClass: [HostPort?: [UInt64]]
        var buckets: [HostPort?: [UInt64]]
    }

    struct Figures: Equatable {
        /// Per backend: 5xx answers per second and the p99 in milliseconds (nil: no requests).
        var errorsPerSecond: [HostPort: Double] = [:]
        var p99Milliseconds: [HostPort: Double] = [:]
        /// The share of the last second's requests answered 5xx (0 when there were none).
        var errorRate: Double = 0
    }

    let span: Int
    private(set) var samples: [Sample] = []

    init(span: Int = 10) {
        self.span = max(span, 1)
    }

    mutating func add(_ stats: TrafficStats) {
        var sample = Sample(byClass: [:], buckets: [:])
        for row in stats.rows {
            sample.byClass[row.backend] = row.byClass
            sample.buckets[row.backend] = row.latencyBuckets.map(\.count)
        }
        add(sample)
    }

    mutating func add(_ sample: Sample) {
        samples.append(sample)
        if samples.count > span + 1 { samples.removeFirst(samples.count - span - 1) }
    }

    var figures: Figures {
        guard let last = samples.last, samples.count >= 2, let first = samples.first else { return Figures() }
        var figures = Figures()
        let seconds = Double(samples.count - 1)
        for (key, classes) in last.byClass {
            guard let backend = key else { continue }
            let before = first.byClass[key] ?? []
            figures.errorsPerSecond[backend] = Double(Self.delta(classes, before, at: 4)) / seconds
            if let p99 = Self.p99(now: last.buckets[key] ?? [], before: first.buckets[key] ?? []) {
                figures.p99Milliseconds[backend] = p99 * 1000
            }
        }
        let previous = samples[samples.count - 2]
        var requests: UInt64 = 0, errors: UInt64 = 0
        for (key, classes) in last.byClass {
            let before = previous.byClass[key] ?? []
            requests += (0..<classes.count).reduce(0) { $0 + Self.delta(classes, before, at: $1) }
            errors += Self.delta(classes, before, at: 4)
        }
        figures.errorRate = requests == 0 ? 0 : Double(errors) / Double(requests)
        return figures
    }

    private static func delta(_ now: [UInt64], _ before: [UInt64], at index: Int) -> UInt64 {
        let current = index < now.count ? now[index] : 0
        let earlier = index < before.count ? before[index] : 0
        return current >= earlier ? current - earlier : current  // a reset counter counts from zero
    }

    /// The upper bound of the bucket holding the 99th percentile of the requests between two
    /// cumulative bucket readings (`TrafficStats.bucketBounds`); nil when there were none.
    static func p99(now: [UInt64], before: [UInt64]) -> Double? {
        let bounds = TrafficStats.bucketBounds
        let counts = (0..<min(now.count, bounds.count)).map { delta(now, before, at: $0) }
        guard let total = counts.last, total > 0 else { return nil }
        let wanted = (Double(total) * 0.99).rounded(.up)
        for (index, count) in counts.enumerated() where Double(count) >= wanted { return bounds[index] }
        return bounds[counts.count - 1]
    }
}
