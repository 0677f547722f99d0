import Foundation
import Synchronization
import TugboatAlerts
import TugboatCore
import TugboatProxy
import TugboatScaling
import TugboatStore

/// What the dashboard shows, as one JSON document per section (`pool`, `traffic`, `history`,
/// `incidents`, `notifications`, `scaling`, `profiles`, `cluster`, `settings`), for
/// `/api/events`. A sampler reads the traffic counters once a second from the admin listener's
/// start, so the chart has the last 15 minutes (900 points) when a page opens; it also notes
/// since when each backend is in its state.
package final class DashboardFeed: Sendable {
    /// A horizontal line on the traffic chart: a scaling or alert threshold in requests/s.
    package struct ChartLine: Codable, Sendable, Equatable {
        package var label: String
        package var rps: Double
        package var kind: String  // "scaling" | "alert"

        package init(label: String, rps: Double, kind: String) {
            self.label = label
            self.rps = rps
            self.kind = kind
        }
    }

    struct Point: Codable, Equatable {
        var t: Int64  // Unix milliseconds
        var rps: Double
        var p99_ms: Double
        var error_rate: Double
    }

    static let historyLength = 900

    private struct State {
        var history: [Point] = []
        var window = TrafficWindow()
        var since: [HostPort: (state: String, at: Date)] = [:]
        var started = false
    }

    private let state = Mutex(State())
    /// The chart's fixed lines, and `scaling`'s target rate per instance in target-tracking mode
    /// (its line is that times the instances); replaced when a reload changes them.
    private let lines: Mutex<(fixed: [ChartLine], targetPerInstance: Double?)>

    package init(chartLines: [ChartLine] = [], targetPerInstance: Double? = nil) {
        lines = Mutex((chartLines, targetPerInstance))
    }

    package convenience init(scaling: ScalingSettings?, alerts: AlertsConfig) {
        let (fixed, target) = Self.chartLines(scaling: scaling, alerts: alerts)
        self.init(chartLines: fixed, targetPerInstance: target)
    }

    /// After a reload: the lines of the new `scaling` and `alerts` sections.
    package func replaceChartLines(scaling: ScalingSettings?, alerts: AlertsConfig) {
        let replacement = Self.chartLines(scaling: scaling, alerts: alerts)
        lines.withLock { $0 = replacement }
    }

    /// The chart's lines from the config: `scaling`'s thresholds (or its target rate per
    /// instance) and every `rps-above` alert rule.
    static func chartLines(scaling: ScalingSettings?, alerts: AlertsConfig) -> (fixed: [ChartLine], targetPerInstance: Double?) {
        var lines: [ChartLine] = []
        var target: Double?
        switch scaling?.mode {
        case .thresholds(let up, let down)?:
            lines += [ChartLine(label: "scale up", rps: up, kind: "scaling"), ChartLine(label: "scale down", rps: down, kind: "scaling")]
        case .targetTracking(let rate)?: target = rate
        case nil: break
        }
        for rule in alerts.rules {
            if case .rpsAbove(let rate) = rule.condition { lines.append(ChartLine(label: rule.name, rps: rate, kind: "alert")) }
        }
        return (lines, target)
    }

    /// Starts the once-a-second sampler (once; it stops with the process or when the feed goes).
    func start(_ admin: AdminState) {
        let alreadyRunning = state.withLock { state in
            defer { state.started = true }
            return state.started
        }
        guard !alreadyRunning else { return }
        Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                self.sample(stats: admin.traffic.stats(), snapshot: await admin.pool.snapshot, now: Date())
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    func sample(stats: TrafficStats, snapshot: PoolSnapshot, now: Date) {
        state.withLock { state in
            state.window.add(stats)
            let figures = state.window.figures
            state.history.append(Point(t: Int64(now.timeIntervalSince1970 * 1000), rps: stats.rps, p99_ms: stats.p99Seconds * 1000,
                                       error_rate: figures.errorRate))
            if state.history.count > Self.historyLength { state.history.removeFirst(state.history.count - Self.historyLength) }
            for info in snapshot.backends where state.since[info.address]?.state != info.state.rawValue {
                state.since[info.address] = (info.state.rawValue, now)
            }
        }
    }

    /// Every section's JSON, now.
    func sections(_ admin: AdminState) async -> [String: String] {
        let snapshot = await admin.pool.snapshot
        let stats = admin.traffic.stats()
        let inflight = admin.dataPlane.inflight()
        let (history, figures, since) = state.withLock { ($0.history, $0.window.figures, $0.since) }
        var sections: [String: String] = [:]
        let pool = snapshot.backends.map { info in
            PoolRow(address: info.address.description, state: info.state, reason: info.reason,
                    inflight: inflight[info.address] ?? 0, rps: stats.rpsByBackend[info.address] ?? 0,
                    p99_ms: figures.p99Milliseconds[info.address], errors_per_second: figures.errorsPerSecond[info.address] ?? 0,
                    since: since[info.address].map { Timestamp.iso($0.at) })
        }
        sections["pool"] = Self.json(pool)
        sections["traffic"] = Self.json(history.last ?? Point(t: Int64(Date().timeIntervalSince1970 * 1000), rps: stats.rps,
                                                               p99_ms: stats.p99Seconds * 1000, error_rate: figures.errorRate))
        sections["history"] = Self.json(history)
        let (fixed, targetPerInstance) = self.lines.withLock { $0 }
        var lines = fixed
        if let target = targetPerInstance, let scaler = admin.scaler {
            let active = await scaler.counts.active
            lines.append(ChartLine(label: "target × \(max(active, 1)) instances", rps: target * Double(max(active, 1)), kind: "scaling"))
        }
        sections["settings"] = Self.json(Settings(chart_lines: lines, scaling: admin.scaler != nil, cluster: admin.cluster != nil,
                                                  profiling: admin.profiles != nil))
        if let store = admin.store {
            sections["incidents"] = Self.json(((try? await store.incidents()) ?? []).prefix(50).map { record in
                var view = IncidentView(record)
                view.flamegraph = record.flamegraph
                return view
            })
            sections["notifications"] = Self.json(((try? await store.notifications()) ?? []).prefix(100).map(NotificationView.init))
            sections["profiles"] = Self.json(((try? await store.profiles(limit: 50)) ?? []).map {
                ProfileRow(id: $0.id ?? 0, address: $0.address, reason: $0.reason, source: $0.source,
                           captured_at: Timestamp.iso($0.capturedAt), samples: $0.samples, flamegraph: "/api/profiles/\($0.id ?? 0)")
            })
        }
        if let scaler = admin.scaler {
            let (current, counts, events) = (await scaler.state, await scaler.counts, await scaler.events)
            sections["scaling"] = Self.json(Scaling(state: current, active: counts.active, ready: counts.ready,
                                                    events: events.suffix(50).reversed().map {
                                                        ScalingRow(at: Timestamp.iso($0.at), from: $0.from, to: $0.to, state: $0.state,
                                                                   reason: $0.reason, failed: $0.failed)
                                                    }))
        }
        sections["cluster"] = admin.cluster?.statusJSON() ?? #"{"mode":"single"}"#
        return sections
    }

    struct PoolRow: Encodable {
        var address: String
        var state: BackendState
        var reason: String
        var inflight: Int
        var rps: Double
        var p99_ms: Double?
        var errors_per_second: Double
        var since: String?
    }

    struct ProfileRow: Encodable {
        var id: Int64; var address: String; var reason: String; var source: String
        var captured_at: String; var samples: Int; var flamegraph: String
    }

    struct ScalingRow: Encodable {
        var at: String; var from: Int; var to: Int; var state: ScalingState; var reason: String; var failed: Bool
    }

    struct Scaling: Encodable {
        var state: ScalingState
        var active: Int
        var ready: Int
        var events: [ScalingRow]
    }

    struct Settings: Encodable {
        var chart_lines: [ChartLine]
        var scaling: Bool
        var cluster: Bool
        var profiling: Bool
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
