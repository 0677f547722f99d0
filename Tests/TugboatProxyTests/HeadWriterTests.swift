import NIOCore
import Testing
@testable import TugboatProxy

/// The heads the proxy writes go through a raw writer that makes room once, from a bound on the
/// head's size: these throw the shapes that make a head grow the most at it (every line ending in
/// a bare LF, values written twice, many `Via` and `X-Forwarded-For` lines, a client's request id
/// as large as a head may be). A bound too small traps (the writer checks every piece), so each
/// case passing means the bound held; the output must also parse as a valid head.
@Suite("Head writer bounds")
struct HeadWriterTests {
    static let roomy = HeadLimits(maxHeadBytes: 1 << 20, maxTargetBytes: 1 << 20, maxHeaderCount: 4096)

    func forward(_ text: String, trusted: Bool, http2: Bool = false) throws -> (out: String, bound: Int) {
        let bytes = Array(text.utf8)
        let context = ForwardingContext(clientIP: Array("203.0.113.77".utf8), trusted: trusted,
                                        generatedID: RequestID(prefix: .max, counter: .max), https: true, http2: http2)
        return try bytes.withUnsafeBytes { raw in
            let head = try RequestHead.parse(raw, limits: Self.roomy)
            var out = ByteBuffer()
            _ = ForwardedHeads.request(head, bytes: raw, context: context, into: &out)
            return (String(buffer: out), ForwardedHeads.requestBound(head, bytes: raw, context: context))
        }
    }

    func parses(_ head: String) -> Bool {
        Array(head.utf8).withUnsafeBytes { (try? RequestHead.parse($0, limits: Self.roomy)) != nil }
    }

    @Test("requests that grow the most on the way stay inside their bound and come out well formed")
    func growingRequests() throws {
        let longHost = String(repeating: "h", count: 60_000)
        let shapes: [(String, Bool)] = [
            // Every line with a bare LF (each gains a CR), a Host written twice (Host and X-Forwarded-Host).
            ("GET / HTTP/1.1\nHost: \(longHost)\n" + (0..<100).map { "a\($0): 1\n" }.joined() + "\n", false),
            // Trusted: every X-Forwarded-For and Via value written again, joined.
            ("GET / HTTP/1.1\r\nHost: x\r\n" + (0..<200).map { "X-Forwarded-For: 10.0.0.\($0 % 250)\r\nVia: 1.1 p\($0)\r\n" }.joined() + "\r\n", true),
            // The shortest lines the rewriting turns into the longest ones.
            ("GET / HTTP/1.1\nHost: x\nX-Forwarded-For:\nVia:\nContent-Length: 0\n\n", true),
            ("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false),
        ]
        for (text, trusted) in shapes {
            let (out, bound) = try forward(text, trusted: trusted)
            #expect(out.utf8.count <= bound)
            #expect(parses(out), "\(out.prefix(300))")
            #expect(out.contains("x-forwarded-for: ") && out.contains("x-request-id: ffffffffffffffff-ffffffffffffffff\r\n"))
        }
    }

    @Test("an h2c upgrade is never passed on (h2c smuggling): Upgrade and HTTP2-Settings dropped, no connection: upgrade; a websocket upgrade is; an empty Upgrade is none", arguments: [
        ("Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", false),
        ("upgrade: H2C\r\nconnection: upgrade\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", false),
        ("Upgrade: websocket, h2c\r\nConnection: upgrade\r\n", false),
        ("Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", false),
        ("Upgrade: websocket\r\nConnection: Upgrade\r\n", true),
        ("Upgrade: h2cx\r\nConnection: Upgrade\r\n", true),
        ("Upgrade: \r\nConnection: Upgrade\r\n", false),  // no protocol named: no upgrade
    ])
    func h2cUpgradeNotForwarded(fields: String, upgrades: Bool) throws {
        let text = "GET /chat HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n"
        let isUpgrade = try Array(text.utf8).withUnsafeBytes { try RequestHead.parse($0, limits: Self.roomy).isUpgrade }
        #expect(isUpgrade == upgrades)
        let out = try forward(text, trusted: false).out.lowercased()
        #expect(out.contains("\r\nupgrade:") == upgrades, "\(out)")
        #expect(out.contains("connection: upgrade") == upgrades, "\(out)")
        #expect(!out.contains("http2-settings"), "\(out)")
    }

    @Test("random request heads: every forwarded head fits its bound and parses")
    func randomRequests() throws {
        var generator = SystemRandomNumberGenerator()
        let names = ["Host", "Via", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-Id",
                     "Forwarded", "X-Real-IP", "Connection", "Keep-Alive", "Proxy-Authorization", "Accept", "Cookie"]
        for _ in 0..<500 {
            let end = Bool.random(using: &generator) ? "\n" : "\r\n"
            var text = "GET /\(String(repeating: "p", count: Int.random(in: 0...300, using: &generator))) HTTP/1.1\(end)Host: h\(end)"
            for _ in 0..<Int.random(in: 0...60, using: &generator) {
                let name = names.randomElement(using: &generator)!
                guard name != "Host" else { continue }
                let value = String(repeating: "v", count: Int.random(in: 0...80, using: &generator))
                text += "\(name):\(Bool.random(using: &generator) ? " " : "")\(value)\(Bool.random(using: &generator) ? "\n" : "\r\n")"
            }
            text += end
            let (out, bound) = try forward(text, trusted: Bool.random(using: &generator), http2: Bool.random(using: &generator))
            #expect(out.utf8.count <= bound)
            #expect(parses(out), "\(text.prefix(200))")
        }
    }

    @Test("a response with bare LFs, many Via lines and the client's request id as large as a head stays inside its bound")
    func growingResponse() throws {
        let text = "HTTP/1.1 200 OK\n" + (0..<300).map { "Via: 1.1 b\($0)\nx-\($0): y\n" }.joined() + "Transfer-Encoding: chunked\n\n"
        let clientID = ByteBuffer(string: String(repeating: "i", count: 64 * 1024))
        try Array(text.utf8).withUnsafeBytes { raw in
            let head = try ResponseHead.parse(raw, requestMethod: .get, limits: Self.roomy)
            for (minor, close) in [(0, false), (1, true), (1, false)] {
                var out = ByteBuffer()
                ForwardedHeads.response(head, bytes: raw, clientMinorVersion: minor, closeClient: close, dechunk: false,
                                        requestID: .client(clientID), into: &out)
                let written = String(buffer: out)
                #expect(written.hasPrefix(minor == 0 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n"))
                #expect(written.hasSuffix("x-request-id: \(String(buffer: clientID))\r\n\r\n"))
                #expect(!written.contains("\n\n") && !written.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
            }
        }
    }

    @Test("an HTTP/2 CONNECT's :authority, written as both target and Host, and many cookies fit the translated head")
    func growingTranslation() throws {
        var list = HeaderFieldList()
        list.append(name: Array(":method".utf8), value: Array("CONNECT".utf8))
        list.append(name: Array(":authority".utf8), value: Array(String(repeating: "a", count: 60_000).utf8))
        let connect = try HTTP2RequestHeadWriter.translate(list, endStream: true)
        #expect(connect.head.readableBytes > 120_000)
        var cookies = HeaderFieldList()
        for (name, value) in [(":method", "POST"), (":scheme", "https"), (":path", "/"), (":authority", "x"), ("content-length", "123456789012345678")] {
            cookies.append(name: Array(name.utf8), value: Array(value.utf8))
        }
        for index in 0..<500 { cookies.append(name: Array("cookie".utf8), value: Array("c\(index)".utf8)) }
        let translated = try HTTP2RequestHeadWriter.translate(cookies, endStream: false)
        let text = String(buffer: translated.head)
        #expect(text.contains("cookie: c0; c1; c2;") && text.hasSuffix("content-length: 123456789012345678\r\n\r\n"))
        #expect(parses(text))
    }
}

@Suite("Head writer numbers")
struct HeadWriterNumberTests {
    func written(_ body: (inout HeadWriter) -> Void) -> String {
        var buffer = ByteBuffer()
        HeadWriter.write(into: &buffer, bound: 64, body)
        return String(buffer: buffer)
    }

    @Test("hex and decimal match Swift's own formatting, at the edges and at random")
    func numbers() {
        var values: [UInt64] = [0, 1, 9, 10, 15, 16, 0xA, 0xF0, 0xFFFF_FFFF, 0x1_0000_0000, 0x0123_4567_89AB_CDEF, .max, .max - 1]
        for shift in 0..<64 { values.append(1 << UInt64(shift)); values.append((1 << UInt64(shift)) - 1) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(UInt64.random(in: 0 ... .max, using: &generator) >> UInt64.random(in: 0..<64, using: &generator)) }
        for value in values {
            #expect(written { $0.hex(value) } == String(value, radix: 16), "\(value)")
            let decimal = Int(truncatingIfNeeded: value & UInt64(Int.max))
            #expect(written { $0.decimal(decimal) } == String(decimal))
        }
        #expect(written { $0.decimal(-5) } == "0")
        #expect(written { RequestID(prefix: 0xABC, counter: 7).write(to: &$0) } == "abc-7")
    }
}
