import Foundation
import Hummingbird
import NIOCore
import Testing
@testable import TugboatAdmin
import TugboatAlerts
import TugboatCore
import TugboatProxy
import TugboatScaling

@Suite("Dashboard: traffic figures, sessions, the event stream, embedded files")
struct DashboardUnitTests {
    static let backend = HostPort(parsing: "127.0.0.1:9001")!

    /// Counters with `requests` answered (of which `errors` 5xx), `fast` of them within 1 ms and
    /// the rest at `latency` seconds.
    static func stats(requests: UInt64, errors: UInt64, fastUntil fast: UInt64, slowAt latency: Double) -> TrafficWindow.Sample {
        let buckets = TrafficStats.bucketBounds.map { bound in bound >= latency ? requests : (bound >= 0.001 ? fast : 0) }
        return .init(byClass: [backend: [0, requests - errors, 0, 0, errors]], buckets: [backend: buckets])
    }

    @Test("5xx per second and p99 over the window come from the counters' deltas; the error rate from the last second")
    func trafficWindow() {
        var window = TrafficWindow(span: 10)
        #expect(window.figures == TrafficWindow.Figures())
        window.add(Self.stats(requests: 1000, errors: 0, fastUntil: 1000, slowAt: 0.001))
        // Ten seconds later: 1000 more requests, 20 of them 5xx; 990 within 1 ms, 10 at 250 ms.
        for second in 1...10 {
            let total = 1000 + UInt64(second) * 100
            window.add(Self.stats(requests: total, errors: UInt64(second) * 2, fastUntil: 1000 + UInt64(second) * 99, slowAt: 0.25))
        }
        let figures = window.figures
        #expect(figures.errorsPerSecond[Self.backend] == 2)
        // 990 of 1000 within 1 ms: the 99th percentile (the 990th) is in the 1 ms bucket.
        #expect(figures.p99Milliseconds[Self.backend] == 1)
        // The last second: 100 requests, 2 of them 5xx.
        #expect(abs(figures.errorRate - 0.02) < 1e-9)
        // With more slow requests the p99 moves to their bucket.
        #expect(TrafficWindow.p99(now: TrafficStats.bucketBounds.map { $0 >= 0.25 ? 100 : ($0 >= 0.001 ? 90 : 0) },
                                  before: TrafficStats.bucketBounds.map { _ in 0 }) == 0.25)
        #expect(TrafficWindow.p99(now: [0, 0], before: [0, 0]) == nil)
    }

    @Test("a session is 256 random bits, ends after 12 hours or at logout, and at most 1,000 are kept")
    func sessions() {
        let sessions = DashboardSessions()
        let now = Date()
        let id = sessions.create(now: now)
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))
        #expect(sessions.isValid(id, now: now))
        #expect(!sessions.isValid(String(id.dropLast()) + "0", now: now) || id.hasSuffix("0"))
        #expect(!sessions.isValid(id, now: now.addingTimeInterval(DashboardSessions.lifetime + 1)))
        let other = sessions.create(now: now)
        sessions.remove(other)
        #expect(!sessions.isValid(other, now: now))
        let first = sessions.create(now: now)
        for index in 1...DashboardSessions.limit { _ = sessions.create(now: now.addingTimeInterval(Double(index))) }
        #expect(!sessions.isValid(first, now: now.addingTimeInterval(2000)), "the oldest made room")
        #expect(DashboardSessions.id(inCookieHeader: "a=1; tugboat_session=abc ; b=2") == "abc")
        #expect(DashboardSessions.id(inCookieHeader: "tugboat_sessionx=abc") == nil)
        #expect(DashboardSessions.id(inCookieHeader: nil) == nil)
    }

    /// A client that stops reading: its writes never complete (until cancelled).
    struct StuckWriter: ResponseBodyWriter {
        mutating func write(_ buffer: ByteBuffer) async throws {
            try await Task.sleep(for: .seconds(3600))
        }
        mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
            try await Task.sleep(for: .seconds(3600))
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    @Test("an event's data spans lines; a client that stops reading is dropped after the write timeout")
    func eventStream() async throws {
        #expect(EventStreamWriter.format(event: "pool", id: 7, data: "a\nb") == "event: pool\nid: 7\ndata: a\ndata: b\n\n")
        var events = EventStreamWriter(writer: StuckWriter(), timeout: .milliseconds(200))
        let started = ContinuousClock.now
        await #expect(throws: EventStreamWriter.SlowClient.self) { try await events.write("data: x\n\n") }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("the chart's lines: scaling thresholds and rps-above rules, replaced by a reload")
    func chartLines() {
        var scaling = ScalingSettings(provider: .exec(up: "up", down: "down", timeout: .seconds(5)), mode: .thresholds(upRPS: 80, downRPS: 20))
        var alerts = AlertsConfig()
        alerts.rules = [AlertRule(name: "too-busy", condition: .rpsAbove(150)), AlertRule(name: "down", condition: .backendDown)]
        let lines = DashboardFeed.chartLines(scaling: scaling, alerts: alerts)
        #expect(lines.fixed == [.init(label: "scale up", rps: 80, kind: "scaling"), .init(label: "scale down", rps: 20, kind: "scaling"),
                                .init(label: "too-busy", rps: 150, kind: "alert")])
        #expect(lines.targetPerInstance == nil)
        scaling.mode = .targetTracking(targetRPS: 50)
        alerts.rules = []
        let tracking = DashboardFeed.chartLines(scaling: scaling, alerts: alerts)
        #expect(tracking.fixed.isEmpty && tracking.targetPerInstance == 50)
    }

    @Test("the embedded files are the ones in dashboard/ (run scripts/embed-dashboard.sh after editing them)")
    func assetsInSync() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for asset in DashboardAssets.all {
            let file = try String(contentsOf: root.appendingPathComponent("dashboard/\(asset.file)"), encoding: .utf8)
            #expect(asset.text == file.trimmingSuffix(), "\(asset.file) differs from the embedded copy")
        }
        #expect(Set(DashboardAssets.all.map(\.path)) == ["/", "/dashboard/app.js", "/dashboard/app.css"])
    }
}

extension String {
    func trimmingSuffix() -> String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
