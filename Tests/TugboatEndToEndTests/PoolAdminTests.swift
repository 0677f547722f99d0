import Foundation
import Testing

@Suite("Run-time pool changes end to end", .serialized)
struct PoolAdminTests {
    func send(_ tugboat: TugboatUnderTest, _ method: String, _ path: String, body: String? = nil) throws -> TestHTTPClient.Response {
        try TestHTTPClient(port: tugboat.adminPort).request(method, path, headers: ["Connection": "close", "Content-Type": "application/json"], body: body)
    }

    @Test("POST adds a backend that gets traffic once healthy; DELETE drains it (in-flight finishes) then removes it; both survive a restart")
    func addDrainRemove() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        let statePath = NSTemporaryDirectory() + "tugboat-pool-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: statePath) }
        var tugboat: TugboatUnderTest? = try TugboatUnderTest(backends: [a.address], extraPool: "  drain: 10s\n  balance: least-request", statePath: statePath)
        let first = tugboat!
        try first.waitHealthy([a.address])

        #expect(try send(first, "POST", "/api/pool/backends", body: "{\"address\":\"\(b.address)\"}").status == 201)
        #expect(try send(first, "POST", "/api/pool/backends", body: "{\"address\":\"\(b.address)\"}").status == 409)
        #expect(try send(first, "POST", "/api/pool/backends", body: "{\"address\":\"nonsense\"}").status == 400)
        #expect(try send(first, "DELETE", "/api/pool/backends/127.0.0.1:1").status == 404)
        try first.waitHealthy([a.address, b.address])

        // One slow request on each backend (least-request), then remove b while its request runs.
        let slow = try (0..<2).map { _ in try TestHTTPClient(port: first.port) }
        for client in slow {
            let before = try first.pool().compactMap { $0["inflight"] as? Int }.reduce(0, +)
            try client.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
            try waitUntilBlocking("the slow request in flight") { try first.pool().compactMap { $0["inflight"] as? Int }.reduce(0, +) == before + 1 }
        }
        try waitUntilBlocking("one slow request on each backend") {
            try first.pool().allSatisfy { $0["inflight"] as? Int == 1 }
        }
        #expect(try send(first, "DELETE", "/api/pool/backends/\(b.address)").status == 202)
        #expect(try first.state(of: b.address) == "draining")
        for _ in 0..<6 {
            #expect(try TestHTTPClient.get(port: first.port, "/").header("x-backend") == a.address)
        }
        let answers = try slow.map { try $0.readResponse().0 }
        #expect(answers.allSatisfy { $0.status == 200 })
        #expect(Set(answers.compactMap { $0.header("x-backend") }) == [a.address, b.address])
        try waitUntilBlocking("b to leave the pool") { try first.state(of: b.address) == nil }

        // Run-time changes persist: a restarted node starts without b and with the added c.
        #expect(try send(first, "POST", "/api/pool/backends", body: "{\"address\":\"127.0.0.1:1\"}").status == 201)
        first.child.stop()
        tugboat = nil
        let second = try TugboatUnderTest(backends: [a.address], statePath: statePath)
        let addresses = try second.pool().compactMap { $0["address"] as? String }
        #expect(addresses == [a.address, "127.0.0.1:1"])
    }
}
