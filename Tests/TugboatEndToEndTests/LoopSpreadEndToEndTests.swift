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

    @Test("over TLS, HTTP/2 connections start on one loop (those accepted on another are handed there before their handshake, each answered); HTTP/1.1 over TLS stays where it is accepted")
    func http2StartsOnOneLoop() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost", "127.0.0.1"])
        let backend = try RawBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "tls:\n  certificates:\n    - { cert: \(site.cert), key: \(site.key) }\n",
                                           health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        var clients: [H2Client] = []
        for index in 0..<8 {
            let client = try H2Client(port: tugboat.port, ca: certificates.caPath)
            #expect(client.negotiatedProtocol == "h2")
            #expect(client.headers(stream: 1, H2Client.request("/h\(index)")))
            #expect(client.wait { _ in client.streamEnded(stream: 1) })
            #expect(client.status(stream: 1) == 200)
            #expect(String(decoding: client.body(stream: 1), as: UTF8.self) == "you asked for /h\(index)")
            clients.append(client)
        }
        let loop = { (index: Int, page: String) in FrontDoor.metric("tugboat_http2_connections{loop=\"\(index)\"}", in: page) }
        var page = try ParkingTests.metrics(tugboat)
        guard cores > 1 else {
            #expect(loop(0, page) == nil, "one loop: nothing to place")
            return
        }
        // NIO deals accepted connections to the loops in turn: half were accepted on loop 1.
        #expect(loop(0, page) == 8 && loop(1, page) == 0, "\(page)")
        let moved = FrontDoor.metric("tugboat_connections_moved_total", in: page) ?? 0
        #expect(moved >= 3, "the connections accepted on loop 1 were not handed to loop 0")
        #expect(FrontDoor.metric("tugboat_connections_open", in: page) == 8, "a move lost or doubled a connection's count")

        // HTTP/1.1 over TLS (ALPN http/1.1, and none at all) is served where it was accepted.
        for alpn in [["--http1.1"], ["--http1.1", "--no-alpn"], ["--http1.1"], ["--http1.1", "--no-alpn"]] {
            let answer = try Curl.run(port: tugboat.port, ca: certificates.caPath,
                                      alpn + ["-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://localhost:\(tugboat.port)/one"])
            #expect(answer.output == "200 1.1", "\(answer.output)")
        }
        page = try ParkingTests.metrics(tugboat)
        #expect(FrontDoor.metric("tugboat_connections_moved_total", in: page) == moved)

        // Every HTTP/2 connection goes on serving; closed, none is counted any more.
        for (index, client) in clients.enumerated() {
            #expect(client.headers(stream: 3, H2Client.request("/again\(index)")))
            #expect(client.wait { _ in client.streamEnded(stream: 3) })
            #expect(String(decoding: client.body(stream: 3), as: UTF8.self) == "you asked for /again\(index)")
            client.close()
        }
        try waitUntilBlocking("the closed connections uncounted") {
            let page = try ParkingTests.metrics(tugboat)
            return loop(0, page) == 0 && loop(1, page) == 0 && FrontDoor.metric("tugboat_connections_open", in: page) == 0
        }
    }
}
