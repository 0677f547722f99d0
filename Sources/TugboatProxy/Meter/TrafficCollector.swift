import Histogram
import ServiceLifecycle
import Synchronization
import TugboatCore

/// Once a second: takes every event loop's meter, keeps cumulative totals for the admin API and
/// /metrics, and publishes the second's ``TrafficSample`` on the signal bus.
package final class TrafficCollector: Service, Sendable {
    private let dataPlane: ProxyDataPlane
    private let signals: SignalBus
    private let state = Mutex<State>(State())

    private struct State {
        var cumulative = TrafficMeter()
        var addresses: [Int: HostPort] = [:]
        var lastSecond = TrafficMeter()
        var lastInterval: Duration = .seconds(1)
    }

    package init(dataPlane: ProxyDataPlane, signals: SignalBus) {
        self.dataPlane = dataPlane
        self.signals = signals
    }

    package func run() async throws {
        let clock = ContinuousClock()
        var last = clock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            let now = clock.now
            await collectOnce(interval: now - last)
            last = now
        }
    }

    /// Collects one interval now (tests call it directly).
    package func collectOnce(interval: Duration) async {
        let (second, addresses) = await dataPlane.collect()
        state.withLock { state in
            state.cumulative.merge(second)
            state.addresses.merge(addresses) { _, new in new }
            state.lastSecond = second
            state.lastInterval = interval
        }
        var total = second.local
        var perBackend: [HostPort: UInt64] = [:]
        var serverErrors: [HostPort: UInt64] = [:]
        for (slot, row) in second.rows.enumerated() where row.total > 0 {
            total.add(row)
            guard let address = addresses[slot] else { continue }
            perBackend[address] = row.total
            if row.byClass.4 > 0 { serverErrors[address] = row.byClass.4 }
        }
        let finishedLatency = total.latency.mean * Double(total.latency.totalCount) / 1e6
        let inflightNow = dataPlane.inflight().values.reduce(0, +)
        let concurrency = max(finishedLatency / max(interval.seconds, 0.001), Double(inflightNow))
        signals.publish(.traffic(TrafficSample(
            interval: interval, requests: total.total, serverErrors: total.byClass.4,
            p99Seconds: Double(total.latency.valueAtPercentile(99)) / 1e6, perBackend: perBackend,
            serverErrorsByBackend: serverErrors, concurrency: concurrency
        )))
    }

    /// Cumulative totals since start and the last second's rates.
    package func stats() -> TrafficStats {
        state.withLock { state in
            var stats = TrafficStats()
            var all = state.cumulative.local
            func row(_ backend: HostPort?, _ meterRow: TrafficMeter.Row) -> TrafficStats.Row {
                TrafficStats.Row(
                    backend: backend, byClass: meterRow.classes,
                    latencyBuckets: TrafficStats.buckets(of: meterRow.latency),
                    latencySumSeconds: meterRow.latency.mean * Double(meterRow.latency.totalCount) / 1e6,
                    latencyCount: meterRow.latency.totalCount
                )
            }
            stats.rows.append(row(nil, state.cumulative.local))
            for (slot, meterRow) in state.cumulative.rows.enumerated() where meterRow.total > 0 {
                all.add(meterRow)
                stats.rows.append(row(state.addresses[slot], meterRow))
            }
            let seconds = max(state.lastInterval.seconds, 0.001)
            var lastTotal: UInt64 = state.lastSecond.local.total
            for (slot, meterRow) in state.lastSecond.rows.enumerated() where meterRow.total > 0 {
                lastTotal += meterRow.total
                if let address = state.addresses[slot] { stats.rpsByBackend[address] = Double(meterRow.total) / seconds }
            }
            stats.rps = Double(lastTotal) / seconds
            if all.latency.totalCount > 0 {
                stats.p50Seconds = Double(all.latency.valueAtPercentile(50)) / 1e6
                stats.p99Seconds = Double(all.latency.valueAtPercentile(99)) / 1e6
            }
            return stats
        }
    }
}
