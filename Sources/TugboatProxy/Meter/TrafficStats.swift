import Histogram
import TugboatCore

/// Cumulative traffic since start, and the last second's rate: what the admin API and /metrics show.
package struct TrafficStats: Sendable {
    /// One row per backend (and one for requests the proxy answered itself, `backend == nil`).
    package struct Row: Sendable {
        package var backend: HostPort?
        /// Requests by status class: index 0 is 1xx … 4 is 5xx.
        package var byClass: [UInt64]
        package var requests: UInt64 { byClass.reduce(0, +) }
        /// Cumulative latency buckets (upper bound in seconds, count at or below).
        package var latencyBuckets: [(le: Double, count: UInt64)]
        package var latencySumSeconds: Double
        package var latencyCount: UInt64
    }

    package var rows: [Row] = []
    /// Requests per second over the last full second.
    package var rps: Double = 0
    /// Requests per second per backend over the last full second.
    package var rpsByBackend: [HostPort: Double] = [:]
    package var p50Seconds: Double = 0
    package var p99Seconds: Double = 0

    package init() {}

    /// Bucket bounds for the Prometheus histogram, in seconds.
    package static let bucketBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    static func buckets(of histogram: Histogram<UInt64>) -> [(le: Double, count: UInt64)] {
        bucketBounds.map { bound in
            let micros = UInt64(bound * 1_000_000)
            return (bound, histogram.totalCount == 0 ? 0 : histogram.count(within: 0...micros))
        }
    }
}
