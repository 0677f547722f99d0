import Foundation
import Testing
import TugboatCore
@testable import TugboatCapture
#if canImport(Glibc)
import Glibc
#endif

@Suite("perf source", .serialized, .timeLimit(.minutes(2)))
struct PerfCaptureTests {
    /// Load, a snapshot of the live demo app, then /crash and a snapshot after its death: both
    /// have the frames of `DemoAppHandler.burnCPU`; detach leaves no perf and no files.
    @Test(arguments: [CaptureSettings.PerfScope.systemWide, .process])
    func liveAndCrashSnapshotsHaveTheHotFunction(scope: CaptureSettings.PerfScope) async throws {
        try requireTool("perf", install: "apt-get install linux-perf")
        #expect(CaptureSupervisor.availabilityProblem(for: .perf, perfScope: scope) == nil)
        let temp = try TempDirectory()
        defer { temp.remove() }
        let port = try freePort()
        let app = try Backend(tugboatExecutable, ["demo-app", "--port", String(port), "--exit-with-parent"], port: port)
        defer { app.kill() }
        try await app.waitHealthy()

        let settings = CaptureSettings(
            source: .perf, window: .seconds(6), slice: .seconds(2), directory: "\(temp.path)/capture", perfScope: scope)
        let supervisor = CaptureSupervisor(settings: settings, logger: testLogger)
        #expect(await supervisor.attach(address: app.address, pid: app.pid) == nil)
        try await waitUntil("perf to record pid \(app.pid)") { !profilers("perf", mentioning: temp.path).isEmpty }

        let served = await load(port: port, "/work?ms=5", for: .seconds(2))
        #expect(served > 10)
        let live = try await supervisor.snapshot(address: app.address, reason: "on demand")
        #expect(!live.instanceExited)
        // Swift frames read as source, not as the mangled `$s7tugboat14DemoAppHandlerC7burnCPU…`.
        #expect(live.foldedText.contains("DemoAppHandler.burnCPU(milliseconds:)"), "live snapshot: \(live.foldedText.prefix(2000))")
        #expect(!live.foldedText.contains("$s7tugboat14DemoAppHandler"), "live snapshot: \(live.foldedText.prefix(2000))")
        // Honest figures: real samples (at most rate × window on each of 2 cores, not nanoseconds),
        // and widths in milliseconds of CPU, said so in the subtitle and the tooltips.
        #expect(live.sampleCount > 0 && live.sampleCount <= settings.rate * 8 * 2, "\(live.sampleCount)")
        #expect(live.stacks.total <= 8 * 2 * 1000, "\(live.stacks.total) ms of CPU in a 6 s window")
        let svg = String(decoding: live.svg, as: UTF8.self)
        #expect(svg.contains("127.0.0.1:\(port) (pid \(app.pid)): on demand"))
        #expect(svg.contains("perf at \(settings.rate) Hz,"), "\(svg.prefix(3000))")
        #expect(svg.contains("\(live.sampleCount) samples (widths: "), "\(svg.prefix(3000))")
        #expect(svg.contains(" ms of CPU, "), "tooltips count milliseconds of CPU")

        _ = await load(port: port, "/work?ms=5", for: .seconds(2))
        _ = await get(port: port, "/crash")
        try await app.waitExited()
        let crash = try await supervisor.snapshot(address: app.address, reason: "crashed")
        #expect(crash.instanceExited)
        #expect(crash.foldedText.contains("DemoAppHandler.burnCPU(milliseconds:)"), "crash snapshot: \(crash.foldedText.prefix(2000))")
        #expect(crash.windowEnd >= live.windowEnd)
        #expect(crash.windowEnd.timeIntervalSince(crash.windowStart) <= 6 + 2 + 1)
        // A second look at the dead instance gives the same window (files are kept until detach).
        let again = try await supervisor.snapshot(address: app.address, reason: "crashed")
        #expect(again.sampleCount == crash.sampleCount)

        await supervisor.detach(address: app.address)
        #expect(profilers("perf", mentioning: temp.path).isEmpty)
        #expect(temp.leftovers("capture").isEmpty)
    }

    /// Detaching a live instance stops perf (no orphan) and removes its files.
    @Test func detachStopsPerf() async throws {
        try requireTool("perf", install: "apt-get install linux-perf")
        let temp = try TempDirectory()
        defer { temp.remove() }
        let port = try freePort()
        let app = try Backend(tugboatExecutable, ["demo-app", "--port", String(port), "--exit-with-parent"], port: port)
        defer { app.kill() }
        try await app.waitHealthy()
        let supervisor = CaptureSupervisor(
            settings: CaptureSettings(source: .perf, directory: "\(temp.path)/capture"), logger: testLogger)
        await supervisor.attach(address: app.address, pid: app.pid)
        try await waitUntil("perf to record pid \(app.pid)") { !profilers("perf", mentioning: temp.path).isEmpty }
        await supervisor.shutdown()
        #expect(profilers("perf", mentioning: temp.path).isEmpty)
        #expect(temp.leftovers("capture").isEmpty)
        #expect(await supervisor.attached.isEmpty)
    }

    /// System-wide scope: one perf for the host, not one per instance. Each instance's graph holds
    /// only its own samples (the loaded one burns CPU, the idle one does not); the crash of one
    /// leaves the recorder running for the other, and the last detach stops it.
    @Test func instancesShareOneSystemWideRecorder() async throws {
        try requireTool("perf", install: "apt-get install linux-perf")
        let temp = try TempDirectory()
        defer { temp.remove() }
        var apps: [Backend] = []
        defer { for app in apps { app.kill() } }
        for _ in 0..<3 {
            let port = try freePort()
            let app = try Backend(tugboatExecutable, ["demo-app", "--port", String(port), "--exit-with-parent"], port: port)
            apps.append(app)
            try await app.waitHealthy()
        }
        let (busy, idle, other) = (apps[0], apps[1], apps[2])
        let settings = CaptureSettings(source: .perf, window: .seconds(6), slice: .seconds(2), directory: "\(temp.path)/capture")
        let supervisor = CaptureSupervisor(settings: settings, logger: testLogger)
        for app in apps { #expect(await supervisor.attach(address: app.address, pid: app.pid) == nil) }
        try await waitUntil("perf to record") { !profilers("perf", mentioning: temp.path).isEmpty }
        #expect(profilers("perf", mentioning: temp.path).count == 1, "one recorder for three instances")

        _ = await load(port: busy.port, "/work?ms=5", for: .seconds(2))
        let busyGraph = try await supervisor.snapshot(address: busy.address, reason: "on demand")
        let idleGraph = try await supervisor.snapshot(address: idle.address, reason: "on demand")
        #expect(busyGraph.foldedText.contains("DemoAppHandler.burnCPU(milliseconds:)"), "\(busyGraph.foldedText.prefix(2000))")
        #expect(!idleGraph.foldedText.contains("burnCPU"), "the idle instance's graph has another's samples: \(idleGraph.foldedText.prefix(2000))")
        #expect(idleGraph.sampleCount < busyGraph.sampleCount)

        _ = await load(port: busy.port, "/work?ms=5", for: .seconds(1))
        _ = await get(port: busy.port, "/crash")
        try await busy.waitExited()
        let crash = try await supervisor.snapshot(address: busy.address, reason: "crashed")
        #expect(crash.instanceExited)
        #expect(crash.foldedText.contains("DemoAppHandler.burnCPU(milliseconds:)"), "crash snapshot: \(crash.foldedText.prefix(2000))")
        await supervisor.detach(address: busy.address)
        #expect(profilers("perf", mentioning: temp.path).count == 1, "the others still recorded")

        _ = await load(port: other.port, "/work?ms=5", for: .seconds(1))
        let otherGraph = try await supervisor.snapshot(address: other.address, reason: "on demand")
        #expect(otherGraph.foldedText.contains("DemoAppHandler.burnCPU(milliseconds:)"), "\(otherGraph.foldedText.prefix(2000))")
        await supervisor.detach(address: idle.address)
        await supervisor.detach(address: other.address)
        #expect(profilers("perf", mentioning: temp.path).isEmpty)
        #expect(temp.leftovers("capture").isEmpty)
    }
}
