import TestSupport
import Foundation
import Testing

/// HTTP/2 at the front: negotiated by ALPN on the TLS listener, each stream proxied to the HTTP/1.1
/// backends. Clients: `curl --http2` (nghttp2) for ordinary requests, ``H2Client`` for raw frames.
@Suite("HTTP/2 at the front", .serialized)
struct HTTP2Tests {
    let certificates: TestCertificates
    let site: (cert: String, key: String)

    init() throws {
        certificates = try TestCertificates()
        site = try certificates.leaf("site", commonName: "localhost", names: ["localhost", "127.0.0.1"])
    }

    func front(_ backends: [String], extraPool: String = "", extraTop: String = "") throws -> TugboatUnderTest {
        let tugboat = try TugboatUnderTest(backends: backends, extraPool: extraPool,
                                           extraTop: "tls:\n  certificates:\n    - { cert: \(site.cert), key: \(site.key) }\n" + extraTop)
        try tugboat.waitHealthy(backends)
        return tugboat
    }

    func client(_ tugboat: TugboatUnderTest, settings: [(UInt16, UInt32)] = []) throws -> H2Client {
        let client = try H2Client(port: tugboat.port, ca: certificates.caPath, settings: settings)
        #expect(client.negotiatedProtocol == "h2")
        return client
    }

    /// After an attack: the listener still serves an ordinary HTTP/2 request.
    func stillServes(_ tugboat: TugboatUnderTest, path: String = "/health") throws {
        let answer = try Curl.run(port: tugboat.port, ca: certificates.caPath,
                                  ["--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://localhost:\(tugboat.port)\(path)"])
        #expect(answer.output == "200 2", "\(answer.output)")
    }

    /// A backend answering /health at once and holding every other request until `gate` opens.
    static func heldBackend(_ gate: RawBackend.Gate, maxConnections: Int = 256) throws -> RawBackend {
        try RawBackend(maxConnections: maxConnections) { request in
            request.target == "/health" ? .ok("ok") : .hold(gate, then: .ok("released \(request.target)"))
        }
    }

    /// A flood: 2,000 streams (ids 1, 3, 5, …), each a GET of /held (`opening` its flags) followed by
    /// `then(stream)`, sent 100 streams at a time until the connection is gone; then the client must
    /// get GOAWAY ENHANCE_YOUR_CALM and be closed.
    func floodIsCalmed(_ client: H2Client, opening: UInt8 = H2Client.Frame.endHeaders | H2Client.Frame.endStream,
                       then: (UInt32) -> [UInt8]) {
        for batch in 0..<20 {
            var bytes: [UInt8] = []
            for index in 0..<100 {
                let stream = UInt32(2 * (batch * 100 + index) + 1)
                bytes += H2Client.frame(type: H2Client.Frame.headers, flags: opening, stream: stream,
                                        payload: H2Client.block(H2Client.request("/held")))
                bytes += then(stream)
            }
            guard client.send(bytes) else { break }
        }
        #expect(client.wait { _ in client.goaway() != nil })
        #expect(client.goaway()?.errorCode == H2Client.ErrorCode.enhanceYourCalm, "\(String(describing: client.goaway()))")
        #expect(client.waitClosed())
    }

    @Test("curl --http2 --cacert reaches the backend over HTTP/2 with the forwarding headers; HTTP/1.1 still works on the same port")
    func curlReachesBackend() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address])
        let port = tugboat.port
        let echo = try Curl.run(port: port, ca: certificates.caPath,
                                ["--http2", "-w", "\n%{http_version}", "-H", "X-Forwarded-For: 6.6.6.6", "https://localhost:\(port)/echo?x=1"])
        #expect(echo.exitCode == 0, "\(echo.output)")
        #expect(echo.output.hasSuffix("\n2"), "\(echo.output)")
        #expect(echo.output.contains("\"x-forwarded-proto\":\"https\""), "\(echo.output)")
        #expect(echo.output.contains("\"x-forwarded-for\":\"127.0.0.1\""), "\(echo.output)")
        #expect(echo.output.contains("\"host\":\"localhost:\(port)\""), "\(echo.output)")
        #expect(echo.output.contains("\"via\":\"2 tugboat\""), "\(echo.output)")
        #expect(echo.output.contains("\"x-request-id\":"), "\(echo.output)")
        #expect(echo.output.contains("\"path\":\"\\/echo?x=1\"") || echo.output.contains("\"path\":\"/echo?x=1\""), "\(echo.output)")

        let upload = try Curl.run(port: port, ca: certificates.caPath,
                                  ["--http2", "--data-binary", "twelve bytes", "https://localhost:\(port)/upload"])
        #expect(upload.output.contains("\"bytes\":12"), "\(upload.output)")
        let plain = try Curl.run(port: port, ca: certificates.caPath,
                                 ["--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://localhost:\(port)/echo"])
        #expect(plain.output == "200 1.1", "\(plain.output)")

        // Two cookie fields are one Cookie line for the backend (RFC 9113 §8.2.3); the response
        // carries no connection-specific field.
        let raw = try client(tugboat)
        #expect(raw.headers(stream: 1, H2Client.request("/echo", extra: [("cookie", "a=1"), ("cookie", "b=2")])))
        #expect(raw.wait { _ in raw.streamEnded(stream: 1) })
        #expect(raw.status(stream: 1) == 200)
        let body = String(decoding: raw.body(stream: 1), as: UTF8.self)
        #expect(body.contains("\"cookie\":\"a=1; b=2\""), "\(body)")
        let names = raw.headerBlocks(stream: 1).flatMap { $0.map(\.name) }
        #expect(!names.contains { ["connection", "keep-alive", "transfer-encoding"].contains($0) }, "\(names)")
        #expect(names.contains("x-request-id"))

        // The traffic meter counts streams like requests, by status class.
        let failing = try Curl.run(port: port, ca: certificates.caPath,
                                   ["--http2", "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:\(port)/status?code=503"])
        #expect(failing.output == "503", "\(failing.output)")
        try waitUntilBlocking(timeout: .seconds(10), "the requests counted") {
            let page = String(decoding: try TestHTTPClient(port: tugboat.adminPort).request("GET", "/metrics", headers: ["Connection": "close"]).body,
                              as: UTF8.self)
            let counted = { (code: String) in FrontDoor.metric("tugboat_requests_total", in: page.split(separator: "\n")
                .filter { $0.contains("code=\"\(code)\"") }.joined(separator: "\n")) ?? 0 }
            return counted("2xx") >= 4 && counted("5xx") >= 1
        }
    }

    @Test("a TLS connection that does not finish its handshake within timeouts.header is closed")
    func handshakeTimeout() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address], extraPool: "  timeouts: { header: 1s }\n")
        let fd = try #require(connectLoopback(port: tugboat.port))
        defer { close(fd) }
        #expect(FrontDoor.peerCloses(fd, within: 10))
        try stillServes(tugboat)
    }

    @Test("a client that sends its ClientHello late and then stalls the handshake is closed at timeouts.header from the accept, not later")
    func lateClientHelloKeepsTheDeadline() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address], extraPool: "  timeouts: { header: 2s }\n")
        let hello = try H2Client.clientHello(alpn: ["h2", "http/1.1"])
        for _ in 0..<2 {  // twice: on a 2-core machine one of them is accepted on the loop it is not placed on
            let fd = try #require(connectLoopback(port: tugboat.port))
            defer { close(fd) }
            let accepted = Date()
            // The slow client: its ClientHello 1.5 s in (the server's first flight comes back), then nothing.
            Thread.sleep(forTimeInterval: 1.5)
            #expect(hello.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == hello.count)
            let (answer, closed) = FrontDoor.readUntilClose(fd, within: 10)
            let closedAfter = Date().timeIntervalSince(accepted)
            #expect(answer.first == 22, "the server's first flight")
            #expect(closed && closedAfter < 2.9, "closed \(closedAfter) s after the accept")
        }
        try stillServes(tugboat)
    }

    @Test("SETTINGS_MAX_CONCURRENT_STREAMS is 100: a client opening 250 streams at once gets GOAWAY, the backend sees 100, those finish, then the connection closes")
    func streamLimit() throws {
        let gate = RawBackend.Gate()
        let backend = try Self.heldBackend(gate)
        let tugboat = try front([backend.address], extraPool: "  timeouts: { idle: 60s }\n")
        let client = try client(tugboat)
        #expect(client.wait { _ in client.serverSettings()[3] == 100 }, "\(client.serverSettings())")
        var burst: [UInt8] = []
        for index in 0..<250 {
            burst += H2Client.frame(type: H2Client.Frame.headers, flags: H2Client.Frame.endHeaders | H2Client.Frame.endStream,
                                    stream: UInt32(2 * index + 1), payload: H2Client.block(H2Client.request("/held")))
        }
        #expect(client.send(burst))
        // RFC 9113 §5.1.2 allows a stream error (REFUSED_STREAM) or more; swift-nio-http2 makes the
        // 101st stream a connection error: GOAWAY PROTOCOL_ERROR, no stream above the 100th started.
        #expect(client.wait { _ in client.goaway() != nil }, "\(client.summary())")
        #expect(client.goaway()?.errorCode == H2Client.ErrorCode.protocolError, "\(client.summary())")
        try waitUntilBlocking(timeout: .seconds(20), "100 requests at the backend") { backend.requests.filter { $0.target == "/held" }.count == 100 }
        #expect(FrontDoor.holds(for: 1) { backend.requests.filter { $0.target == "/held" }.count == 100 })
        gate.release()
        #expect(client.wait(timeout: 20) { _ in (0..<100).allSatisfy { client.streamEnded(stream: UInt32(2 * $0 + 1)) } })
        #expect((0..<100).allSatisfy { client.status(stream: UInt32(2 * $0 + 1)) == 200 })
        #expect(!client.frames().contains { $0.stream > 199 && $0.type == H2Client.Frame.headers })
        // Closed when the last stream is done, not after timeouts.idle (60 s).
        #expect(client.waitClosed(timeout: 5))
        try stillServes(tugboat)
    }

    @Test("rapid reset (CVE-2023-44487): HEADERS + RST_STREAM in a loop ends in GOAWAY ENHANCE_YOUR_CALM; upstream work is bounded and cancelled")
    func rapidReset() throws {
        let gate = RawBackend.Gate()
        let backend = try Self.heldBackend(gate, maxConnections: 2000)
        let tugboat = try front([backend.address])
        floodIsCalmed(try client(tugboat)) { stream in
            H2Client.frame(type: H2Client.Frame.rstStream, flags: 0, stream: stream, payload: H2Client.be32(H2Client.ErrorCode.cancel))
        }
        // At most the reset allowance (200) reached the backend, and every one of them was cancelled.
        let held = backend.requests.filter { $0.target == "/held" }
        #expect(held.count <= 210, "\(held.count) requests reached the backend")
        try waitUntilBlocking(timeout: .seconds(20), "the upstream connections of the reset streams closed") {
            Set(backend.requests.filter { $0.target == "/held" }.map(\.connection)).isSubset(of: backend.connectionsClosedByPeer)
        }
        gate.release()
        try stillServes(tugboat)
    }

    /// A frame that is legal to send but makes the server reset the stream it names, once its
    /// request has gone to the backend: the "MadeYouReset" attack (CVE-2025-8671) frees the stream's
    /// slot while the backend's work goes on, as a client's own RST_STREAM does, without one.
    enum Provocation: String, CaseIterable, CustomTestStringConvertible {
        case headersAfterEndStream = "a second HEADERS after END_STREAM"
        case windowOverflow = "a WINDOW_UPDATE past 2^31-1"
        case windowUpdateOfZero = "a WINDOW_UPDATE of 0"
        case trailersWithoutEndStream = "trailers without END_STREAM on a request with a body"

        var testDescription: String { rawValue }

        /// The request's HEADERS: a GET ended at once, or a request whose body is still to come.
        var openingFlags: UInt8 {
            self == .trailersWithoutEndStream ? H2Client.Frame.endHeaders : H2Client.Frame.endHeaders | H2Client.Frame.endStream
        }

        func frame(stream: UInt32) -> [UInt8] {
            switch self {
            case .headersAfterEndStream:
                H2Client.frame(type: H2Client.Frame.headers, flags: H2Client.Frame.endHeaders | H2Client.Frame.endStream,
                               stream: stream, payload: H2Client.block([("x-trailer", "1")]))
            case .windowOverflow:
                H2Client.frame(type: H2Client.Frame.windowUpdate, flags: 0, stream: stream, payload: H2Client.be32(0x7FFF_FFFF))
            case .windowUpdateOfZero:
                H2Client.frame(type: H2Client.Frame.windowUpdate, flags: 0, stream: stream, payload: H2Client.be32(0))
            case .trailersWithoutEndStream:
                H2Client.frame(type: H2Client.Frame.headers, flags: H2Client.Frame.endHeaders,
                               stream: stream, payload: H2Client.block([("x-trailer", "1")]))
            }
        }
    }

    @Test("MadeYouReset (CVE-2025-8671): streams the client makes Tugboat reset count as stream errors; a flood of them ends in GOAWAY ENHANCE_YOUR_CALM with upstream work bounded",
          arguments: Provocation.allCases)
    func madeYouReset(_ provocation: Provocation) throws {
        let gate = RawBackend.Gate()
        let backend = try Self.heldBackend(gate, maxConnections: 2000)
        let tugboat = try front([backend.address])
        floodIsCalmed(try client(tugboat), opening: provocation.openingFlags, then: provocation.frame(stream:))
        // At most the allowance of stream errors (200) reached the backend, not one per stream sent.
        let held = backend.requests.filter { $0.target == "/held" }
        #expect(held.count <= 210, "\(held.count) requests reached the backend")
        gate.release()
        try stillServes(tugboat)
    }

    @Test("a stream reset before its response: the response is read into the void and the backend's connection serves later streams")
    func resetKeepsUpstreamConnection() throws {
        let gate = RawBackend.Gate()
        let backend = try Self.heldBackend(gate)
        let tugboat = try front([backend.address])
        let client = try client(tugboat)
        func get(_ stream: UInt32, _ path: String) -> [UInt8] {
            H2Client.frame(type: H2Client.Frame.headers, flags: H2Client.Frame.endHeaders | H2Client.Frame.endStream,
                           stream: stream, payload: H2Client.block(H2Client.request(path)))
        }
        func connections(_ targets: Set<String>) -> Set<Int> {
            Set(backend.requests.filter { targets.contains($0.target) }.map(\.connection))
        }
        #expect(client.send(get(1, "/first") + get(3, "/second")))
        try waitUntilBlocking("both requests at the backend") { connections(["/first", "/second"]).count == 2 }
        #expect(client.send(H2Client.frame(type: H2Client.Frame.rstStream, flags: 0, stream: 1,
                                           payload: H2Client.be32(H2Client.ErrorCode.cancel))))
        gate.release()
        #expect(client.wait { _ in client.status(stream: 3) == 200 })
        let kept = connections(["/first", "/second"])
        #expect(FrontDoor.holds(for: 1.5) { kept.isDisjoint(with: backend.connectionsClosedByPeer) },
                "the reset stream's connection is not closed (past ResponseDrain.patience too)")
        #expect(client.send(get(5, "/third") + get(7, "/fourth")))
        #expect(client.wait { _ in client.status(stream: 5) == 200 && client.status(stream: 7) == 200 })
        #expect(connections(["/third", "/fourth"]) == kept, "two later streams at once went over the two connections kept")
        #expect(client.status(stream: 1) == nil, "nothing of the abandoned response reached the client")
    }

    @Test("CONTINUATION flood (CVE-2024-27316): endless CONTINUATION frames close the connection with memory bounded")
    func continuationFlood() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address])
        let baseline = tugboat.child.residentKiB
        let client = try client(tugboat)
        #expect(client.send(H2Client.frame(type: H2Client.Frame.headers, flags: 0, stream: 1, payload: H2Client.block(H2Client.request("/echo")))))
        let piece = H2Client.frame(type: H2Client.Frame.continuation, flags: 0, stream: 1,
                                   payload: H2Client.block([("x-flood", String(repeating: "c", count: 8000))]))
        var sent = 0
        while sent < 2000, client.send(Array([[UInt8]](repeating: piece, count: 10).joined())) { sent += 10 }
        #expect(client.waitClosed())
        #expect(sent < 2000, "the server took \(sent) CONTINUATION frames")
        let growth = tugboat.child.residentKiB - baseline
        #expect(growth < 16 * 1024, "resident memory grew by \(growth) KiB")
        #expect(!client.frames().contains { $0.type == H2Client.Frame.headers })
        try stillServes(tugboat)
    }

    @Test("an HPACK bomb (one 4 KiB field indexed 15,000 times) is refused before it is built; memory stays bounded")
    func hpackBomb() throws {
        let backend = try RawBackend()
        let tugboat = try front([backend.address])
        let baseline = tugboat.child.residentKiB
        let client = try client(tugboat)
        // Literal with incremental indexing (dynamic index 62), then the index alone again and again.
        let block = H2Client.block(H2Client.request("/bomb")) + [0x40] + H2Client.string("x-bomb")
            + H2Client.string(String(repeating: "a", count: 4096)) + [UInt8](repeating: 0x80 | 62, count: 15000)
        let first = Array(block.prefix(16000)), rest = Array(block.dropFirst(16000))
        #expect(client.send(H2Client.frame(type: H2Client.Frame.headers, flags: H2Client.Frame.endStream, stream: 1, payload: first)
            + H2Client.frame(type: H2Client.Frame.continuation, flags: H2Client.Frame.endHeaders, stream: 1, payload: rest)))
        #expect(client.wait { _ in client.goaway() != nil || client.resetCode(stream: 1) != nil || client.status(stream: 1) != nil })
        #expect(client.status(stream: 1) == nil || client.status(stream: 1) == 431)
        #expect(!backend.requests.contains { $0.target == "/bomb" })
        let growth = tugboat.child.residentKiB - baseline
        #expect(growth < 16 * 1024, "resident memory grew by \(growth) KiB")
        try stillServes(tugboat)
    }

    @Test("header limits match HTTP/1.1: 128 fields pass, 129 get 431; a header list over 64 KiB is refused")
    func headerLimits() throws {
        let backend = try RawBackend()
        let tugboat = try front([backend.address])
        let client = try client(tugboat)
        #expect(client.wait { _ in client.serverSettings()[6] == 64 * 1024 }, "\(client.serverSettings())")
        // host + 127 fields = 128 lines: the limit.
        let fields = (0..<127).map { ("x-field-\($0)", "v") }
        #expect(client.headers(stream: 1, H2Client.request("/fields", extra: fields)))
        #expect(client.wait { _ in client.streamEnded(stream: 1) })
        #expect(client.status(stream: 1) == 200)
        #expect(client.headers(stream: 3, H2Client.request("/too-many", extra: fields + [("x-one-more", "v")])))
        #expect(client.wait { _ in client.streamEnded(stream: 3) })
        #expect(client.status(stream: 3) == 431)
        #expect(!backend.requests.contains { $0.target == "/too-many" })

        let large = H2Client.block(H2Client.request("/large", extra: [("x-large", String(repeating: "l", count: 70 * 1024))]))
        var frames: [UInt8] = []
        var offset = 0
        while offset < large.count {
            let end = min(offset + 16384, large.count)
            let type = offset == 0 ? H2Client.Frame.headers : H2Client.Frame.continuation
            let flags = (offset == 0 ? H2Client.Frame.endStream : 0) | (end == large.count ? H2Client.Frame.endHeaders : 0)
            frames += H2Client.frame(type: type, flags: flags, stream: 5, payload: Array(large[offset..<end]))
            offset = end
        }
        _ = client.send(frames)
        #expect(client.wait { _ in client.goaway() != nil || client.resetCode(stream: 5) != nil || client.status(stream: 5) != nil })
        #expect(client.status(stream: 5) == nil || client.status(stream: 5) == 431)
        #expect(!backend.requests.contains { $0.target == "/large" })
        try stillServes(tugboat)
    }

    @Test("malformed requests are stream errors, never forwarded; CONNECT gets 405 as over HTTP/1.1")
    func malformed() throws {
        let backend = try RawBackend()
        let tugboat = try front([backend.address])
        let client = try client(tugboat)
        let cases: [(UInt32, [(String, String)])] = [
            (1, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost")]),
            (3, H2Client.request("/upper", extra: [("X-Upper", "1")])),
            (5, H2Client.request("/connection", extra: [("connection", "keep-alive")])),
            (7, H2Client.request("/te", extra: [("transfer-encoding", "chunked")])),
            (9, H2Client.request("/crlf", extra: [("x-split", "a\r\nx-injected: 1")])),
        ]
        for (stream, fields) in cases {
            #expect(client.headers(stream: stream, fields))
            #expect(client.wait { _ in client.resetCode(stream: stream) != nil || client.goaway() != nil }, "stream \(stream)")
            #expect(client.resetCode(stream: stream) == H2Client.ErrorCode.protocolError, "stream \(stream)")
        }
        #expect(client.headers(stream: 11, [(":method", "CONNECT"), (":authority", "example.com:443")]))
        #expect(client.wait { _ in client.streamEnded(stream: 11) })
        #expect(client.status(stream: 11) == 405)
        #expect(client.headers(stream: 13, H2Client.request("/fine")))
        #expect(client.wait { _ in client.streamEnded(stream: 13) })
        #expect(client.status(stream: 13) == 200)
        #expect(backend.requests.filter { $0.target != "/health" }.map(\.target) == ["/fine"])
        #expect(client.goaway() == nil)
    }

    @Test("on SIGTERM an HTTP/2 connection gets GOAWAY, its in-flight stream completes, then it closes")
    func goawayOnDrain() throws {
        let gate = RawBackend.Gate()
        let backend = try Self.heldBackend(gate)
        let tugboat = try front([backend.address])
        let client = try client(tugboat)
        #expect(client.headers(stream: 1, H2Client.request("/in-flight")))
        try waitUntilBlocking("the request at the backend") { backend.requests.contains { $0.target == "/in-flight" } }
        tugboat.child.signal(SIGTERM)
        #expect(client.wait { _ in client.goaway() != nil })
        #expect(client.goaway()?.errorCode == H2Client.ErrorCode.noError)
        #expect(!client.isClosed)
        gate.release()
        #expect(client.wait { _ in client.streamEnded(stream: 1) })
        #expect(client.status(stream: 1) == 200)
        #expect(String(decoding: client.body(stream: 1), as: UTF8.self) == "released /in-flight")
        #expect(client.waitClosed())
        #expect(tugboat.child.waitForExit() == 0)
    }

    @Test("on SIGTERM a client that never answers the GOAWAY's PING is closed once its streams are done, not at the end of pool.drain")
    func drainWithoutPingAnswer() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address], extraPool: "  drain: 60s\n")
        let client = try client(tugboat)
        client.answersPings = false
        #expect(client.headers(stream: 1, H2Client.request("/health")))
        #expect(client.wait { _ in client.streamEnded(stream: 1) })
        let stopped = Date()
        tugboat.child.signal(SIGTERM)
        #expect(client.wait { _ in client.goaway() != nil })
        #expect(client.waitClosed(timeout: 10))
        #expect(tugboat.child.waitForExit(timeout: 15) == 0)
        #expect(Date().timeIntervalSince(stopped) < 15)
    }

    @Test("an HTTP/2 connection with no open stream closes after timeouts.idle")
    func idleConnection() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address], extraPool: "  timeouts: { idle: 1s }\n")
        let client = try client(tugboat)
        #expect(client.headers(stream: 1, H2Client.request("/health")))
        #expect(client.wait { _ in client.streamEnded(stream: 1) })
        #expect(client.waitClosed(timeout: 10))
        #expect(client.goaway() != nil)
    }

    @Test("a stream open longer than timeouts.idle keeps its connection; the idle time counts from the last stream's end")
    func idleCountsFromLastStream() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address], extraPool: "  timeouts: { idle: 1s }\n")
        let client = try client(tugboat)
        #expect(client.headers(stream: 1, H2Client.request("/slow?ms=2500")))  // across the first idle deadline
        #expect(client.wait(timeout: 10) { _ in client.streamEnded(stream: 1) })
        #expect(client.status(stream: 1) == 200)
        #expect(client.body(stream: 1) == Array("slept 2500 ms\n".utf8))
        let ended = Date()
        #expect(client.headers(stream: 3, H2Client.request("/health")), "closed while a stream was open")
        #expect(client.wait { _ in client.streamEnded(stream: 3) })
        #expect(client.status(stream: 3) == 200)
        #expect(client.waitClosed(timeout: 10))
        #expect(Date().timeIntervalSince(ended) >= 0.9, "closed before a whole idle second after the last stream")
    }

    @Test("tls.http2-max-streams is the SETTINGS_MAX_CONCURRENT_STREAMS sent; tls.http2: false negotiates http/1.1 only")
    func configuration() throws {
        let backend = try DemoBackend()
        let limited = try front([backend.address], extraTop: "  http2-max-streams: 10\n")
        let client = try client(limited)
        #expect(client.wait { _ in client.serverSettings()[3] == 10 }, "\(client.serverSettings())")
        let off = try front([backend.address], extraTop: "  http2: false\n")
        let offered = try H2Client(port: off.port, ca: certificates.caPath, alpn: ["h2", "http/1.1"])
        #expect(offered.negotiatedProtocol == "http/1.1")
        let curl = try Curl.run(port: off.port, ca: certificates.caPath,
                                ["--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://localhost:\(off.port)/health"])
        #expect(curl.output == "200 1.1", "\(curl.output)")
    }

    @Test("HTTP/2 connections count toward max-connections")
    func maxConnections() throws {
        let backend = try DemoBackend()
        let tugboat = try front([backend.address], extraTop: "max-connections: 1\n")
        let first = try client(tugboat)
        #expect(first.headers(stream: 1, H2Client.request("/health")))
        #expect(first.wait { _ in first.streamEnded(stream: 1) })
        let second = try H2Client(port: tugboat.port, ca: certificates.caPath)
        #expect(second.waitClosed())
        #expect(!second.frames().contains { $0.type == H2Client.Frame.settings })
        first.close()
        try waitUntilBlocking("a connection admitted again") {
            let third = try H2Client(port: tugboat.port, ca: certificates.caPath)
            return third.wait(timeout: 2) { _ in !third.serverSettings().isEmpty }
        }
    }

    @Test("256 MiB down and up over HTTP/2 with bounded memory; a client that opens no window stops the upstream")
    func streaming() throws {
        let size = 256 << 20
        let backend = try DemoBackend()
        let tugboat = try front([backend.address])
        let port = tugboat.port
        var baseline = tugboat.child.residentKiB
        var sampler = StreamingTests.PeakMemory(tugboat.child)
        let down = try Curl.run(port: port, ca: certificates.caPath,
                                ["--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{size_download}",
                                 "https://localhost:\(port)/download?bytes=\(size)"])
        var growth = sampler.stop() - baseline
        #expect(down.output == "200 2 \(size)", "\(down.output)")
        #expect(growth < 64 * 1024, "download: resident memory grew by \(growth) KiB")

        let file = certificates.directory + "/upload.bin"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        baseline = tugboat.child.residentKiB
        sampler = StreamingTests.PeakMemory(tugboat.child)
        let up = try Curl.run(port: port, ca: certificates.caPath,
                              ["--http2", "-X", "POST", "-T", file, "https://localhost:\(port)/upload"])
        growth = sampler.stop() - baseline
        #expect(up.output.contains("\"bytes\":\(size)"), "\(up.output)")
        #expect(growth < 64 * 1024, "upload: resident memory grew by \(growth) KiB")

        // A client that never sends WINDOW_UPDATE gets one window's worth; the proxy holds no more.
        let slow = try client(tugboat)
        baseline = tugboat.child.residentKiB
        #expect(slow.headers(stream: 1, H2Client.request("/download?bytes=\(size)")))
        #expect(slow.wait { _ in slow.body(stream: 1).count >= 65535 })
        #expect(FrontDoor.holds(for: 3) { tugboat.child.residentKiB - baseline < 16 * 1024 && slow.body(stream: 1).count <= 65535 })
    }

    @Test("internal data buffering (CVE-2019-9517): a client that opens every window and then stops reading its socket holds up its backend; the proxy buffers no more than its limits")
    func clientStopsReading() throws {
        let size = 256 << 20
        let backend = try DemoBackend()
        let tugboat = try front([backend.address])
        let greedy = try client(tugboat, settings: [(0x4, 0x7FFF_FFFF)])
        #expect(greedy.send(H2Client.frame(type: H2Client.Frame.windowUpdate, flags: 0, stream: 0, payload: H2Client.be32(0x7FFF_FFFF - 65535))))
        let baseline = tugboat.child.residentKiB
        #expect(greedy.headers(stream: 1, H2Client.request("/download?bytes=\(size)")))
        #expect(greedy.wait { _ in greedy.body(stream: 1).count >= 1 << 20 })
        greedy.stopReading()
        #expect(FrontDoor.holds(for: 3) { tugboat.child.residentKiB - baseline < 32 * 1024 },
                "resident memory grew by \(tugboat.child.residentKiB - baseline) KiB")
        #expect(greedy.body(stream: 1).count < size)
        try stillServes(tugboat)
    }
}
