import FlameGraph
import Foundation
import Synchronization
import Testing
import TugboatCore
@testable import TugboatCapture

@Suite("push source")
struct PushCaptureTests {
    final class Clock: Sendable {
        private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { time.withLock { $0 } }
        func advance(_ seconds: Double) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    let address = HostPort(host: "10.0.0.7", port: 8080)

    func supervisor(_ clock: Clock, window: Duration = .seconds(15)) -> CaptureSupervisor {
        CaptureSupervisor(settings: CaptureSettings(source: .push, window: window), logger: testLogger, now: { clock.now })
    }

    @Test func foldedAndPprofPushesMergeInsideTheWindow() async throws {
        let clock = Clock()
        let capture = supervisor(clock)
        await capture.attach(address: address, pid: nil)
        try await capture.push(address: address, body: Array("main;serve;handle 3\nmain;idle 1\n".utf8), contentType: "text/plain")
        clock.advance(5)
        try await capture.push(address: address, body: Array("main;serve;handle 2\n".utf8), contentType: nil)
        let pprof = try [UInt8](Data(contentsOf: pprofFixtures.appendingPathComponent("cpu.pb.gz")))
        try await capture.push(address: address, body: pprof, contentType: "application/octet-stream")
        clock.advance(5)

        let merged = try await capture.snapshot(address: address, reason: "on demand")
        let lines = Set(merged.foldedText.split(separator: "\n").map(String.init))
        #expect(lines.contains("main;serve;handle 5"))
        #expect(lines.contains("main;idle 1"))
        let pprofStacks = try PprofCollapser.collapse(.bytes(pprof))
        #expect(merged.stacks.count == pprofStacks.count + 2)
        #expect(merged.windowEnd == clock.now)
        #expect(merged.windowStart == clock.now.addingTimeInterval(-15))

        // 11 s later the first push (now 21 s old) is out, the second and the pprof (16 s) too.
        clock.advance(11)
        try await capture.push(address: address, body: Array("main;late 7\n".utf8), contentType: "text/plain")
        let later = try await capture.snapshot(address: address, reason: "on demand")
        #expect(later.foldedText == "main;late 7\n")
        #expect(later.sampleCount == 7)
    }

    @Test func oldPushesFallOut() async throws {
        let clock = Clock()
        let capture = supervisor(clock, window: .seconds(10))
        await capture.attach(address: address, pid: nil)
        try await capture.push(address: address, body: Array("a;b 1\n".utf8), contentType: "text/plain")
        clock.advance(10.5)
        await #expect(throws: CaptureError.self) { try await capture.snapshot(address: address, reason: "crashed") }
    }

    @Test func badPushesAreRefused() async throws {
        let clock = Clock()
        let capture = supervisor(clock)
        await #expect(throws: CaptureError.notAttached("10.0.0.7:8080")) {
            try await capture.push(address: address, body: Array("a 1\n".utf8), contentType: nil)
        }
        await capture.attach(address: address, pid: nil)
        await #expect(throws: CaptureError.self) {
            try await capture.push(address: address, body: [0x1f, 0x8b, 0, 1, 2], contentType: nil)
        }
        await #expect(throws: CaptureError.self) {
            try await capture.push(address: address, body: Array("not folded at all\n".utf8), contentType: "text/plain")
        }
    }

    @Test func pushWindowIsPure() {
        var window = PushWindow(window: .seconds(10))
        var stacks = FoldedStacks()
        stacks.add(Array("x;y".utf8), count: 2)
        let t0 = Date(timeIntervalSince1970: 0)
        window.add(stacks, samples: 2, at: t0)
        window.add(stacks, samples: 2, at: t0.addingTimeInterval(5))
        #expect(window.merged(now: t0.addingTimeInterval(9)).samples == 4)
        #expect(window.merged(now: t0.addingTimeInterval(12)).samples == 2)
        window.prune(now: t0.addingTimeInterval(16))
        #expect(window.entries.isEmpty)
    }
}
