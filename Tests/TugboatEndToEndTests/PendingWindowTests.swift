import Foundation
import Testing

/// Issue 15: a rule's `for` window survives a restart (here a `kill -9`): the condition pending 4 s
/// of a 6 s `for` fires about 2 s after the restart, not 6 s.
@Suite("Pending windows across a restart", .serialized)
struct PendingWindowTests {
    @Test("a condition pending before a restart fires when its window ends, not a whole window after the restart")
    func pendingSurvivesRestart() throws {
        let contract = try ContractServer()
        try contract.setHealth(up: false)
        let statePath = NSTemporaryDirectory() + "tugboat-pending-\(UUID().uuidString).db"
        let top = contract.monitorYAML + """
        alerts:
          startup-grace: 0s
          group: { wait: 0s }
          channels: { log: { log: {} } }
          rules:
            - { name: front-down, monitor: front, condition: down, for: 6s, channels: [log] }
        """
        let first = try TugboatUnderTest(backends: [], extraTop: top, statePath: statePath)
        _ = try first.child.waitForLine { $0.contains("monitor down") }
        let pendingStarted = Date()
        Thread.sleep(forTimeInterval: 4)  // the scenario: 4 s of the 6 s window pass, then the process dies
        #expect(try first.incidents().isEmpty)
        first.stop()  // SIGKILL

        let restarted = Date()
        let second = try TugboatUnderTest(backends: [], extraTop: top, statePath: statePath)
        defer { second.stop() }
        try waitUntilBlocking(timeout: .seconds(15), "the incident to fire") { try second.incidents().first?["state"] as? String == "firing" }
        let afterRestart = Date().timeIntervalSince(restarted), sinceStart = Date().timeIntervalSince(pendingStarted)
        #expect(afterRestart < 4.5, "fired \(afterRestart) s after the restart: the window started again")
        #expect(sinceStart >= 5.8, "fired \(sinceStart) s after the condition began, before its 6 s window")
        #expect(second.child.lines.contains { $0.contains("pending condition restored") })
    }
}
