import Foundation
import Logging
import TestSupport
import Testing
import TugboatCapture
import TugboatCore
@testable import TugboatRuntime
import TugboatStore

@Suite("Crash forensics on a manual clock")
struct CrashForensicsTests {
    @Test("a burst of 5xx is captured once per window: another burst within it is not, one after it is")
    func oncePerWindow() async throws {
        let manual = ManualClock()
        let store = try Store(path: ":memory:")
        let signals = SignalBus()
        let address = HostPort(host: "127.0.0.1", port: 1)
        let forensics = CrashForensics(settings: ProfilingSettings(source: .push, window: .seconds(30), errorBurst: 5),
                                       store: store, signals: signals, logger: Logger(label: "t"), clock: ServiceClock(manual))
        func burst(_ errors: UInt64) {
            signals.publish(.traffic(TrafficSample(interval: .seconds(1), requests: errors, serverErrors: errors, p99Seconds: 0,
                                                   perBackend: [address: errors], serverErrorsByBackend: [address: errors])))
        }
        func reasons() async throws -> Set<String> { Set(try await store.profiles().map(\.reason)) }
        let running = Task { try await forensics.run() }

        // The service subscribes as it starts: the instance turns healthy (attached) until its
        // push capture takes stacks.
        try await waitUntil("the instance attached") {
            signals.publish(.backendStateChanged(address: address, from: .starting, to: .healthy, reason: "check passed"))
            do {
                try await forensics.push(address: address, body: Array("main;serve;handle 10\n".utf8), contentType: "text/plain")
                return true
            } catch {
                return false
            }
        }
        burst(10)
        try await waitUntil("the first burst captured") { try await reasons() == ["burst of 10 5xx in one second"] }
        burst(11)  // within the window
        // Signals are taken in order: once the removal's grace sleeps on the clock, the burst before it was seen.
        signals.publish(.backendRemoved(HostPort(host: "127.0.0.1", port: 2)))
        try await waitUntil("the signals before the removal taken") { manual.sleepers == 1 }
        manual.advance(by: .seconds(30))
        burst(12)
        try await waitUntil("the burst after the window captured") { try await reasons().count >= 2 }
        #expect(try await reasons() == ["burst of 10 5xx in one second", "burst of 12 5xx in one second"])
        running.cancel()
        _ = await running.result
    }
}
