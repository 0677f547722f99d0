import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Large response bodies of known length go from a plain backend to a plain client through a
/// kernel pipe (splice(2)): byte for byte, with backpressure both ways, and every way the
/// exchange can end early still ends cleanly.
@Suite("Spliced response bodies", .serialized)
struct SpliceTests {
    static let threadsOne = "threads: 1"

    /// The response's head and then at most `length` body bytes (fewer if the connection ends),
    /// reading nothing beyond them (a pipelined response after it stays in the socket).
    static func readResponse(_ fd: Int32, length: Int, readSize: Int = 8192, readPause: Duration? = nil, within seconds: Double = 20) -> (head: String, body: [UInt8], closed: Bool) {
        let end = Date().addingTimeInterval(seconds)
        var headBytes: [UInt8] = []
        var body: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8 * 1024)
        var headDone = false
        while Date() < end && body.count < length {
            setReceiveTimeout(fd, max(0.01, min(0.2, end.timeIntervalSinceNow)))
            let want = headDone ? min(readSize, length - body.count) : 1
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, 0) }
            if n > 0 {
                if headDone {
                    body += chunk[0..<n]
                    if let readPause { Thread.sleep(forTimeInterval: Double(readPause.components.attoseconds) / 1e18) }
                } else {
                    headBytes.append(chunk[0])
                    headDone = headBytes.suffix(4) == Array("\r\n\r\n".utf8)[...]
                }
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return (String(decoding: headBytes, as: UTF8.self), body, true)
            }
        }
        return (String(decoding: headBytes, as: UTF8.self), body, false)
    }

    static func metric(_ name: String, _ tugboat: TugboatUnderTest) throws -> Double {
        FrontDoor.metric(name, in: try TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText) ?? -1
    }

    /// The pipes the proxy holds open (descriptors that are `pipe:[…]`).
    static func openPipes(_ pid: Int32) -> Int {
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)"))?.hasPrefix("pipe:") == true }.count
    }

    @Test("a trickled 3 MiB body reaches a slow client byte for byte through the pipe; the pipelined request after it too, on the same upstream connection")
    func slowBothWays() throws {
        let length = 3 * 1024 * 1024
        let backend = try PacedBackend(.init(bodyLength: length, piece: 48 * 1024, pause: .milliseconds(3)))
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: Self.threadsOne, health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        defer { close(fd) }
        var small: Int32 = 16 * 1024  // a client whose socket fills: the pipe cannot always be emptied into it
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        #expect(FrontDoor.sendAll(fd, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"))
        for target in ["/one", "/two"] {
            let (head, body, _) = Self.readResponse(fd, length: length, readSize: 4096, readPause: .milliseconds(2))
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(target): \(head)")
            #expect(body.count == length, "\(target): \(body.count) of \(length) bytes")
            #expect(PacedBackend.isPattern(body[...]), "\(target): the body's bytes changed on the way")
        }
        let requests = backend.requests.filter { $0.target != "/health" }
        #expect(requests.map(\.target) == ["/one", "/two"])
        #expect(Set(requests.map(\.connection)).count == 1, "the upstream connection was not reused: \(requests)")
        try waitUntilBlocking("both responses counted as spliced") {
            try Self.metric("tugboat_spliced_responses_total", tugboat) == 2
        }
        #expect(try Self.metric("tugboat_spliced_bytes_total", tugboat) == Double(2 * length))
    }

    @Test("a backend that closes in the middle of a spliced body: the client's connection is cut, never a short response that looks whole; the proxy keeps serving")
    func backendDiesMidBody() throws {
        let length = 2 * 1024 * 1024
        let backend = try PacedBackend(.init(bodyLength: length, piece: 64 * 1024, pause: .milliseconds(1), cutAfter: 700 * 1024))
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: Self.threadsOne, health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        let pipesBefore = Self.openPipes(tugboat.child.pid)
        for _ in 0..<3 {
            guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
            #expect(FrontDoor.sendAll(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
            let (head, body, closed) = Self.readResponse(fd, length: length)
            close(fd)
            #expect(head.hasPrefix("HTTP/1.1 200"))
            #expect(closed, "the client's connection was left open with \(body.count) of \(length) bytes")
            #expect(body.count == 700 * 1024, "\(body.count) bytes arrived")
            #expect(PacedBackend.isPattern(body[...]))
        }
        #expect(try Self.metric("tugboat_spliced_responses_total", tugboat) == 0)
        #expect(Self.openPipes(tugboat.child.pid) <= pipesBefore, "a cut body left its pipe open")
    }

    @Test("a backend that sends the whole body and closes: the client gets all of it")
    func backendClosesAfterBody() throws {
        let length = 1024 * 1024 + 17
        let backend = try PacedBackend(.init(bodyLength: length, piece: 256 * 1024, pause: .milliseconds(1), closeAfterBody: true))
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: Self.threadsOne, health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        for _ in 0..<3 {
            guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
            defer { close(fd) }
            #expect(FrontDoor.sendAll(fd, "GET /all HTTP/1.1\r\nHost: x\r\n\r\n"))
            let (head, body, _) = Self.readResponse(fd, length: length)
            #expect(head.hasPrefix("HTTP/1.1 200"))
            #expect(body.count == length)
            #expect(PacedBackend.isPattern(body[...]))
        }
    }

    @Test("clients that leave in the middle of spliced bodies: their upstream connections are closed and no pipe is left behind")
    func clientLeavesMidBody() throws {
        let length = 4 * 1024 * 1024
        let backend = try PacedBackend(.init(bodyLength: length, piece: 64 * 1024, pause: .milliseconds(2)))
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: Self.threadsOne, health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        // One whole download first: the loop keeps its (empty) pipe for the next body.
        guard let first = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        #expect(FrontDoor.sendAll(first, "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(Self.readResponse(first, length: length).body.count == length)
        close(first)
        let pipesAfterOne = Self.openPipes(tugboat.child.pid)
        for _ in 0..<10 {
            guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
            #expect(FrontDoor.sendAll(fd, "GET /partial HTTP/1.1\r\nHost: x\r\n\r\n"))
            let (_, body, _) = Self.readResponse(fd, length: 300 * 1024)
            #expect(body.count >= 300 * 1024)
            var linger = linger(l_onoff: 1, l_linger: 0)  // a reset, as a client that crashed
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
            close(fd)
        }
        try waitUntilBlocking("no pipe left behind by the 10 cut downloads (\(pipesAfterOne) after one whole one)") {
            Self.openPipes(tugboat.child.pid) <= pipesAfterOne
        }
        try waitUntilBlocking("the cut downloads' upstream connections closed (\(backend.openConnections) open)") {
            backend.openConnections == 0
        }
        // And it still splices.
        guard let last = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        defer { close(last) }
        #expect(FrontDoor.sendAll(last, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n"))
        let again = Self.readResponse(last, length: length)
        #expect(again.body.count == length && PacedBackend.isPattern(again.body[...]))
        try waitUntilBlocking("the last download counted as spliced") {
            try Self.metric("tugboat_spliced_responses_total", tugboat) == 2
        }
    }

    @Test("clients that stop reading spliced bodies are cut at the request timeout, and the backend is not blamed for it")
    func stalledReadersDoNotEjectBackend() throws {
        let length = 64 * 1024 * 1024
        // A backend that sends as fast as it is read (the demo app's download), so only the
        // clients hold things up.
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address],
                                           extraPool: "  passive: { failures: 3, ejection: 30s }\n  timeouts: { request: 1s }",
                                           extraTop: Self.threadsOne)
        try tugboat.waitHealthy([backend.address])
        var readers: [Int32] = []
        defer { readers.forEach { close($0) } }
        for _ in 0..<4 {
            guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            #expect(FrontDoor.sendAll(fd, "GET /download?bytes=\(length) HTTP/1.1\r\nHost: x\r\n\r\n"))
            readers.append(fd)
        }
        // Nobody reads: once the request time is up each exchange is cut (its channel closed).
        try waitUntilBlocking("the stalled exchanges cut") {
            try FrontDoor.metric("tugboat_connections_open", in: TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText) == 0
        }
        #expect(FrontDoor.holds(for: 3) { try tugboat.state(of: backend.address) == "healthy" },
                "backend state: \((try? tugboat.state(of: backend.address)) ?? "unknown")")
    }
}
