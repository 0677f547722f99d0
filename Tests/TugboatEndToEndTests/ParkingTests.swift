import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Idle keep-alive connections are parked without their channel after a second and come back
/// when their client speaks: the same TCP connection serves on, counted as open throughout.
@Suite("Parked idle connections", .serialized)
struct ParkingTests {
    static func metrics(_ tugboat: TugboatUnderTest) throws -> String {
        try TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText
    }

    static func gauge(_ name: String, _ tugboat: TugboatUnderTest) throws -> Double {
        FrontDoor.metric(name, in: try metrics(tugboat)) ?? -1
    }

    /// One keep-alive request on `fd`; the response's status line and body.
    static func exchange(_ fd: Int32, _ target: String) throws -> (status: String, body: String) {
        guard FrontDoor.sendAll(fd, "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n") else { throw TestFailure("send failed") }
        let response = readResponse(fd, within: 5)
        return (response?.statusLine ?? "", response?.bodyText ?? "")
    }

    /// Reads one response with a Content-Length body (and nothing after it), or nil by the deadline.
    static func readResponse(_ fd: Int32, within seconds: Double) -> FrontDoor.RawResponse? {
        let end = Date().addingTimeInterval(seconds)
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while Date() < end {
            if let response = FrontDoor.RawResponse(bytes),
               response.body.count >= Int(response.header("Content-Length") ?? "0") ?? 0 {
                return response
            }
            setReceiveTimeout(fd, 0.2)
            let n = recv(fd, &byte, 1, 0)
            if n == 1 {
                bytes.append(byte)
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return nil
            }
        }
        return nil
    }

    /// The local port of a connected socket (the same TCP connection keeps it).
    static func localPort(of fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("an idle connection is parked, and its next requests are served on the same TCP connection, which parks again")
    func parkAndComeBack() throws {
        let backend = try RawBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "threads: 1", health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        defer { close(fd) }
        var localPort = 0
        for round in 1...3 {
            let (status, body) = try Self.exchange(fd, "/round\(round)")
            #expect(status.hasPrefix("HTTP/1.1 200"), "round \(round): \(status)")
            #expect(body == "you asked for /round\(round)")
            if round == 1 { localPort = Self.localPort(of: fd) }
            #expect(Self.localPort(of: fd) == localPort)
            try waitUntilBlocking("the idle connection parked (round \(round))") {
                try Self.gauge("tugboat_connections_parked", tugboat) == 1
            }
            #expect(try Self.gauge("tugboat_connections_open", tugboat) == 1, "a parked connection is still open")
        }
        #expect(!FrontDoor.peerCloses(fd, within: 0.2), "the parked connection was closed")
    }

    @Test("a parked connection closes at its idle deadline, and its count with it")
    func parkedIdleTimeout() throws {
        let backend = try RawBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraPool: "  timeouts: { idle: 3s }", health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        defer { close(fd) }
        #expect(try Self.exchange(fd, "/once").status.hasPrefix("HTTP/1.1 200"))
        try waitUntilBlocking("parked") { try Self.gauge("tugboat_connections_parked", tugboat) == 1 }
        let parkedAt = Date()
        #expect(FrontDoor.peerCloses(fd, within: 5), "the parked connection outlived its idle timeout")
        #expect(Date().timeIntervalSince(parkedAt) > 1, "closed before its idle deadline")
        try waitUntilBlocking("no connection counted") {
            try Self.gauge("tugboat_connections_open", tugboat) == 0 && Self.gauge("tugboat_connections_parked", tugboat) == 0
        }
    }

    @Test("parked connections count toward max-connections; one that closes frees its slot")
    func parkedCountTowardLimit() throws {
        let backend = try RawBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "max-connections: 2", health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        for index in 0..<2 {
            guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
            fds.append(fd)
            #expect(try Self.exchange(fd, "/\(index)").status.hasPrefix("HTTP/1.1 200"))
        }
        try waitUntilBlocking("both parked") { try Self.gauge("tugboat_connections_parked", tugboat) == 2 }
        guard let third = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        #expect(try Self.exchange(third, "/third").status.hasPrefix("HTTP/1.1 503"))
        close(third)
        close(fds.removeFirst())
        try waitUntilBlocking("the closed parked connection freed its slot") {
            try Self.gauge("tugboat_connections_open", tugboat) == 1
        }
        guard let fourth = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        fds.append(fourth)
        #expect(try Self.exchange(fourth, "/fourth").status.hasPrefix("HTTP/1.1 200"))
    }

    @Test("graceful shutdown: parked connections are closed, one that speaks in the grace second is answered with Connection: close")
    func drainClosesParked() throws {
        let backend = try RawBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        guard let quiet = connectLoopback(port: tugboat.port, timeout: 5),
              let talker = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        defer { close(quiet); close(talker) }
        #expect(try Self.exchange(quiet, "/a").status.hasPrefix("HTTP/1.1 200"))
        #expect(try Self.exchange(talker, "/b").status.hasPrefix("HTTP/1.1 200"))
        try waitUntilBlocking("both parked") { try Self.gauge("tugboat_connections_parked", tugboat) == 2 }
        kill(tugboat.child.pid, SIGTERM)
        try tugboat.child.waitForLine { $0.contains("proxy draining") }
        guard FrontDoor.sendAll(talker, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n") else { throw TestFailure("send failed") }
        let late = Self.readResponse(talker, within: 5)
        #expect(late?.statusLine.hasPrefix("HTTP/1.1 200") == true, "\(String(describing: late?.statusLine))")
        #expect(late?.header("Connection")?.lowercased() == "close")
        #expect(FrontDoor.peerCloses(quiet, within: 5), "a parked connection outlived the drain")
        try tugboat.child.waitForLine { $0.contains("proxy drained") }
    }
}
