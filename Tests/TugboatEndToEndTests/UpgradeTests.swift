import Foundation
import Testing

/// Seamless upgrade: a second `tugboat serve` with the same config binds the same addresses while
/// the first runs (SO_REUSEPORT), takes new connections once its pool is ready, and SIGTERM then
/// drains the first — with no failed request at any point.
@Suite("Seamless upgrade", .serialized)
struct UpgradeTests {
    @Test("one process replaces another under load (keep-alive and new connections): no request fails, the admin API moves too")
    func replaceUnderLoad() throws {
        let backend = try DemoBackend()
        let listen = "127.0.0.1:\(try freePort())", admin = "127.0.0.1:\(try freePort())"
        let statePath = NSTemporaryDirectory() + "tugboat-upgrade-\(UUID().uuidString).db"
        func start() throws -> TugboatUnderTest {
            try TugboatUnderTest(backends: [backend.address], extraPool: "  drain: 10s", statePath: statePath,
                                 listen: listen, adminListen: admin)
        }
        let old = try start()
        try old.waitHealthy([backend.address])
        let load = LoadClients(port: old.port, keepAlive: 3, fresh: 2)
        defer { load.stop() }
        try waitUntilBlocking("requests through the first process") { load.succeeded >= 200 }

        let new = try start()  // both listen now; new connections go to the new one
        #expect(new.port == old.port)
        #expect(new.child.lines.contains { $0.contains("taking over once the pool is ready") }, "\(new.child.lines)")
        let beforeStop = load.succeeded
        try waitUntilBlocking("requests after the second process took over") { load.succeeded >= beforeStop + 200 }
        old.child.signal(SIGTERM)
        #expect(old.child.waitForExit() == 0)
        let afterStop = load.succeeded
        try waitUntilBlocking("requests with only the second process left") { load.succeeded >= afterStop + 200 }
        load.stop()
        #expect(load.failures.isEmpty, "\(load.failures.count) failed: \(load.failures.prefix(5))")
        // The admin listener is the new process's.
        #expect(try new.state(of: backend.address) == "healthy")
        #expect(old.child.lines.contains { $0.contains("proxy drained") }, "\(old.child.lines.suffix(5))")
    }
}
