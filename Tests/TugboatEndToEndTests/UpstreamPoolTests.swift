import Foundation
import Testing
import TestSupport
import TugboatCore
#if canImport(Glibc)
import Glibc
#endif

/// Idle upstream connections: what one burst of concurrent requests opened serves the next one,
/// and what a burst left behind is closed again while the steady load keeps its connections.
@Suite("Upstream connection pool", .serialized)
struct UpstreamPoolTests {
    /// More than the 256 idle connections a loop used to keep per backend (HTTP/2 with 50
    /// connections of 10 streams each has 500 requests in flight).
    static let burst = 300

    @Test("a burst of concurrent requests reuses the connections the previous burst opened, and the surplus is closed later")
    func burstsReuseConnections() throws {
        DescriptorLimit.raiseToHard()
        let gates = [RawBackend.Gate(), RawBackend.Gate()]
        let backend = try RawBackend(maxConnections: 4 * Self.burst) { request in
            guard request.target.hasPrefix("/burst/"), let round = Int(request.target.dropFirst("/burst/".count)) else {
                return .ok("ok")
            }
            return .hold(gates[round], then: .ok("done"))  // every request of a round in flight at once
        }
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "threads: 1", health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        let clients = (0..<Self.burst).compactMap { _ in connectLoopback(port: tugboat.port, timeout: 10) }
        defer { clients.forEach { close($0) } }
        try #require(clients.count == Self.burst)
        let before = backend.connectionCount  // the health check's

        for round in 0..<2 {
            for fd in clients { #expect(FrontDoor.sendAll(fd, "GET /burst/\(round) HTTP/1.1\r\nHost: x\r\n\r\n")) }
            try waitUntilBlocking("round \(round): all \(Self.burst) requests at the backend") {
                backend.requests.filter { $0.target == "/burst/\(round)" }.count == Self.burst
            }
            gates[round].release()
            for fd in clients {
                let (head, body, _) = SpliceTests.readResponse(fd, length: 4)
                #expect(head.hasPrefix("HTTP/1.1 200") && body == Array("done".utf8), "round \(round): \(head)")
            }
        }
        let dialled = backend.connectionCount - before
        #expect(dialled == Self.burst, "the second burst needed \(dialled - Self.burst) new connections")

        // Nothing uses them now: once the need remembered has fallen below them, each purge closes
        // half of the surplus, the oldest first.
        try waitUntilBlocking(timeout: .seconds(30), "half the burst's connections closed by the proxy") {
            backend.connectionsClosedByPeer.count >= Self.burst / 2
        }
        #expect(backend.connectionsClosedByPeer.count < dialled, "the last idle connection is kept")
        let response = try TestHTTPClient.get(port: tugboat.port, "/after")
        #expect(response.status == 200)
        #expect(backend.connectionCount - before == dialled, "a request after the purge found a kept connection")
    }
}
