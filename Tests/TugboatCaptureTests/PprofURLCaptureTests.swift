import FlameGraph
import Foundation
import Testing
import TugboatCore
@testable import TugboatCapture

@Suite("pprof-url source", .serialized, .timeLimit(.minutes(1)))
struct PprofURLCaptureTests {
    let profile: [UInt8]
    let expectedLines: Set<String>

    init() throws {
        profile = try [UInt8](Data(contentsOf: pprofFixtures.appendingPathComponent("cpu.pb.gz")))
        let folded = try String(contentsOf: pprofFixtures.appendingPathComponent("cpu.default.folded"), encoding: .utf8)
        expectedLines = Set(folded.split(separator: "\n").map(String.init))
    }

    /// On demand: one fetch of `window` seconds, collapsed as `tugboat collapse pprof` does.
    @Test func onDemandFetchMatchesTheFixture() async throws {
        let server = try FixtureServer(body: profile)
        defer { server.stop() }
        let settings = CaptureSettings(source: .pprofURL, window: .seconds(3), pprofRolling: false)
        let supervisor = CaptureSupervisor(settings: settings, logger: testLogger)
        let address = HostPort(host: "127.0.0.1", port: server.port)
        #expect(await supervisor.attach(address: address, pid: nil) == nil)
        let captured = try await supervisor.snapshot(address: address, reason: "unhealthy")
        #expect(server.requests == ["/debug/pprof/profile?seconds=3"])
        #expect(Set(captured.foldedText.split(separator: "\n").map(String.init)) == expectedLines)
        #expect(captured.sampleCount > 0)
        #expect(captured.sampleCount < Int(captured.stacks.total))  // samples, not nanoseconds
        #expect(!captured.instanceExited)

        // Gone: a pull source has nothing to show, and says so.
        server.stop()
        let failing = ContinuousClock.now
        await #expect(throws: CaptureError.self) { try await supervisor.snapshot(address: address, reason: "crashed") }
        #expect(ContinuousClock.now - failing < .seconds(5))  // refused at once, not a timeout
        await supervisor.shutdown()
    }

    /// Rolling: the last complete fetch survives the instance.
    @Test func rollingFetchOutlivesTheInstance() async throws {
        let server = try FixtureServer(body: profile)
        let settings = CaptureSettings(source: .pprofURL, window: .seconds(1), slice: .seconds(1))
        let supervisor = CaptureSupervisor(settings: settings, logger: testLogger)
        let address = HostPort(host: "127.0.0.1", port: server.port)
        await supervisor.attach(address: address, pid: nil)
        let first = try await supervisor.snapshot(address: address, reason: "on demand")
        #expect(Set(first.foldedText.split(separator: "\n").map(String.init)) == expectedLines)
        server.stop()
        let afterDeath = try await supervisor.snapshot(address: address, reason: "crashed")
        #expect(Set(afterDeath.foldedText.split(separator: "\n").map(String.init)) == expectedLines)
        #expect(server.requests.allSatisfy { $0 == "/debug/pprof/profile?seconds=1" })
        await supervisor.shutdown()
    }
}
