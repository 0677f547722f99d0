import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `threads: auto` in the shipped binary: on a machine with more than one core, connections
/// accepted on a loop that takes none move to the one that does, and /metrics says so.
/// (The busy-driven joining and leaving, with real sockets, is LoopMoveTests'.)
@Suite("threads: auto in the binary", .serialized)
struct LoopSpreadEndToEndTests {
    @Test("an idle proxy gathers its connections on one loop: those accepted on another move there after a response, each answered")
    func idleGathersOnOneLoop() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let backend = try RawBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        for index in 0..<8 {
            guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
            fds.append(fd)
            let (status, body) = try ParkingTests.exchange(fd, "/n\(index)")
            #expect(status.hasPrefix("HTTP/1.1 200") && body == "you asked for /n\(index)", "\(status) \(body)")
        }
        guard cores > 1 else {
            let page = try ParkingTests.metrics(tugboat)
            #expect(FrontDoor.metric("tugboat_event_loops", in: page) == nil, "one loop: nothing to spread")
            return
        }
        // NIO deals accepted connections to the loops in turn; those on the idle loop move after a
        // response (within a 250 ms sample), each still answered.
        var round = 0
        try waitUntilBlocking("the connections on the other loop moved") {
            round += 1
            for (index, fd) in fds.enumerated() {
                #expect(try ParkingTests.exchange(fd, "/r\(round)-\(index)").body == "you asked for /r\(round)-\(index)")
            }
            return (FrontDoor.metric("tugboat_connections_moved_total", in: try ParkingTests.metrics(tugboat)) ?? 0) >= 1
        }
        let page = try ParkingTests.metrics(tugboat)
        #expect(FrontDoor.metric("tugboat_event_loops", in: page) == Double(cores))
        #expect(FrontDoor.metric("tugboat_event_loops_active", in: page) == 1)
        #expect(FrontDoor.metric("tugboat_connections_open", in: page) == 8, "a move lost or doubled a connection's count")
        // Every connection still serves (none was closed by its move).
        for (index, fd) in fds.enumerated() {
            #expect(try ParkingTests.exchange(fd, "/again\(index)").body == "you asked for /again\(index)")
        }
    }
}
