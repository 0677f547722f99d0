import NIOCore
import Testing
@testable import TugboatProxy

/// The request and response head parsers and the chunked scanner: pure, on bytes.
@Suite("HTTP/1 heads and chunked bodies, from bytes")
struct HeadParserTests {
    func parseRequest(_ text: String) throws(HeadError) -> RequestHead {
        let bytes = Array(text.utf8)
        let result: Result<RequestHead, HeadError> = bytes.withUnsafeBytes { raw in
            guard let length = HeadScanner.headLength(raw, from: 0) else { return .failure(.malformed("incomplete")) }
            do throws(HeadError) {
                return .success(try RequestHead.parse(UnsafeRawBufferPointer(rebasing: raw[0..<length])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    func requestError(_ text: String) -> HeadError? {
        do {
            _ = try parseRequest(text)
            return nil
        } catch {
            return error
        }
    }

    func parseResponse(_ text: String, method: RequestMethod = .get) throws(HeadError) -> ResponseHead {
        let bytes = Array(text.utf8)
        let result: Result<ResponseHead, HeadError> = bytes.withUnsafeBytes { raw in
            guard let length = HeadScanner.headLength(raw, from: 0) else { return .failure(.malformed("incomplete")) }
            do throws(HeadError) {
                return .success(try ResponseHead.parse(UnsafeRawBufferPointer(rebasing: raw[0..<length]), requestMethod: method))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    @Test("the end of a head is found across reads, with CRLF or bare LF line ends")
    func headEnd() {
        let text = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY".utf8)
        text.withUnsafeBytes { raw in
            #expect(HeadScanner.headLength(raw, from: 0) == text.count - 4)
            #expect(HeadScanner.headLength(UnsafeRawBufferPointer(rebasing: raw[0..<20]), from: 0) == nil)
            #expect(HeadScanner.headLength(raw, from: 20) == text.count - 4)  // resumes where it stopped
        }
        Array("GET / HTTP/1.1\nHost: x\n\n".utf8).withUnsafeBytes { raw in
            #expect(HeadScanner.headLength(raw, from: 0) == raw.count)
        }
    }

    @Test("a request head: method, target, version, fields as offsets, framing, keep-alive, upgrade")
    func request() throws {
        let text = "POST /a?b HTTP/1.1\r\nHost: example.com\r\nContent-Length:  12 \r\nConnection: keep-alive, X-Hop\r\n\r\n"
        let head = try parseRequest(text)
        let bytes = Array(text.utf8)
        #expect(head.method == .post)
        #expect(String(decoding: bytes[head.targetStart..<head.targetEnd], as: UTF8.self) == "/a?b")
        #expect(head.minorVersion == 1)
        #expect(head.framing == .length(12))
        #expect(head.keepAlive)
        #expect(head.headers.count == 3)
        let length = head.headers[1]
        #expect(String(decoding: bytes[Int(length.valueStart)..<Int(length.valueEnd)], as: UTF8.self) == "12")
        #expect(head.headers.map(\.kind) == [.host, .contentLength, .connection])
        #expect(head.connectionNamed.count == 1)
        // Up to 32 names, across Connection lines; one more is refused (each other field is checked against every name).
        let names = (0..<32).map { "x-\($0)" }
        let many = try parseRequest("GET / HTTP/1.1\r\nHost: x\r\nConnection: \(names[..<16].joined(separator: ","))\r\nConnection: \(names[16...].joined(separator: ", "))\r\n\r\n")
        #expect(many.connectionNamed.count == 32)
        #expect(throws: HeadError.self) { try parseRequest("GET / HTTP/1.1\r\nHost: x\r\nConnection: \(names.joined(separator: ",")), one-more\r\n\r\n") }

        let upgrade = try parseRequest("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(upgrade.isUpgrade)
        let old = try parseRequest("GET / HTTP/1.0\r\n\r\n")
        #expect(old.minorVersion == 0)
        #expect(!old.keepAlive)
        #expect(try parseRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
        #expect(!(try parseRequest("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keepAlive))
        // Close wins wherever it is listed (RFC 9112 §9.3; found by the fuzzer).
        #expect(!(try parseRequest("GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n").keepAlive))
        #expect(try parseRequest("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").method == .options)
        #expect(try parseRequest("GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n").method == .get)
    }

    @Test("an absolute-form target's authority must be the Host (RFC 9112 §3.2), ignoring case and userinfo; other forms are not compared")
    func absoluteFormAuthority() throws {
        for good in ["GET http://example.com/a HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n",
                     "GET http://user:pw@example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
                     "GET https://example.com:8443?q HTTP/1.1\r\nHost: example.com:8443\r\n\r\n",
                     "GET http://[::1]:80/ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
                     "GET http://example.com/ HTTP/1.0\r\n\r\n",  // HTTP/1.0 without Host: nothing to compare
                     "GET /http://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n"] {
            #expect(throws: Never.self, "\(good.debugDescription)") { _ = try parseRequest(good) }
        }
        for bad in ["GET http://other.example/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
                    "GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
                    "GET http://example.com@other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
                    "GET http://example.com/ HTTP/1.0\r\nHost: other.example\r\n\r\n"] {
            #expect(throws: HeadError.self, "\(bad.debugDescription)") { _ = try parseRequest(bad) }
        }
    }

    @Test("Transfer-Encoding: only a single final chunked, any case; other codings 501")
    func transferEncoding() throws {
        #expect(try parseRequest("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").framing == .chunked)
        #expect(try parseRequest("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked , \r\n\r\n").framing == .chunked)
        #expect(requestError("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")?.status == 501)
        #expect(requestError("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == 501)
        #expect(requestError("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == 400)
        #expect(requestError("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")?.status == 400)
        #expect(requestError("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n")?.status == 400)
        #expect(requestError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == 400)
    }

    @Test("smuggling shapes and malformed heads are refused with the right status", arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("TRACE / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", 400),
        ("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET /\(String(repeating: "a", count: 8200)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET a HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET +upload HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET a:b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ])
    func refused(request: String, status: Int) {
        #expect(requestError(request)?.status == status, "\(request.prefix(60))")
    }

    @Test("a control byte or DEL anywhere in a long value is refused, at any offset within a word; HTAB and obs-text pass")
    func valueBytesAtEveryOffset() throws {
        let length = 40
        for position in 0..<length {
            for (bad, allowed) in [(UInt8(0x00), false), (0x01, false), (0x1F, false), (0x7F, false), (0x0D, false),
                                   (0x09, true), (0x20, true), (0x7E, true), (0x80, true), (0xFF, true)] {
                var value = [UInt8](repeating: UInt8(ascii: "v"), count: length)
                value[position] = bad
                if position == 0 || position == length - 1, bad == 0x09 || bad == 0x20 { continue }  // trimmed, not inside
                let head = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".utf8) + value + Array("\r\n\r\n".utf8)
                var storage: [HeaderField] = []
                let outcome = head.withUnsafeBytes { bytes in
                    Result { () throws(HeadError) in try RequestHead.parse(bytes, limits: HeadLimits(), reusing: &storage) }
                }
                switch outcome {
                case .success: #expect(allowed, "byte \(bad) at \(position) was accepted")
                case .failure(let error): #expect(!allowed && error.status == 400, "byte \(bad) at \(position): \(error)")
                }
            }
        }
        // A HTAB flags its word without being refused: the scan must go on past that word (a bare
        // CR after "padded \t" once slipped through; the differential fuzzer found it).
        let tabThenCR = Array("padded \t \rTrailer: X".utf8)
        tabThenCR.withUnsafeBytes { raw in
            #expect(HeadScanner.firstInvalidValueByte(raw, from: 0, to: raw.count) == 9)
            #expect(HeadScanner.firstInvalidValueByte(raw, from: 1, to: raw.count) == 9)
        }
        #expect(throws: HeadError.self) {
            try parseRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Spaces:   padded \t \rTrailer: X\r\n\r\n")
        }
        for tab in 0..<8 {
            for bad in 8..<30 {
                var value = [UInt8](repeating: 0x61, count: 30)
                value[tab] = 0x09
                value[bad] = 0x0D
                value.withUnsafeBytes { raw in
                    #expect(HeadScanner.firstInvalidValueByte(raw, from: 0, to: raw.count) == bad, "HTAB at \(tab), CR at \(bad)")
                }
            }
        }
        // The scan itself, on every start and end around word boundaries: a bad byte inside the
        // range is found, one just past it (read with the last word, masked) is not; a HTAB passes.
        for (bad, flagged) in [(UInt8(0x7F), true), (0x00, true), (0x0D, true), (0x1F, true), (0x09, false)] {
            let bytes = [UInt8](repeating: 0x61, count: 37) + [bad] + [UInt8](repeating: 0x61, count: 20)
            bytes.withUnsafeBytes { raw in
                for start in 0..<38 {
                    for end in start...raw.count {
                        let expected: Int? = flagged && start <= 37 && 37 < end ? 37 : nil
                        #expect(HeadScanner.firstInvalidValueByte(raw, from: start, to: end) == expected, "byte \(bad) in \(start)..<\(end)")
                    }
                }
            }
        }
    }

    @Test("bare LF line ends are accepted; leading whitespace in a value is trimmed")
    func lenientWhereSafe() throws {
        let head = try parseRequest("GET / HTTP/1.1\nHost:\tx \nX-A:   v\n\n")
        #expect(head.headers.count == 2)
        #expect(head.headers[0].valueEnd - head.headers[0].valueStart == 1)
    }

    @Test("response framing: CL, chunked, none for HEAD/1xx/204/304, until close; CL+TE is an error")
    func response() throws {
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").framing == .length(5))
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").framing == .chunked)
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: .head).framing == .none)
        #expect(try parseResponse("HTTP/1.1 204 No Content\r\n\r\n").framing == .none)
        #expect(try parseResponse("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").framing == .none)
        #expect(try parseResponse("HTTP/1.1 100 Continue\r\n\r\n").isInformational)
        let untilClose = try parseResponse("HTTP/1.0 200 OK\r\n\r\n")
        #expect(untilClose.framing == .untilClose)
        #expect(!untilClose.keepAlive)
        #expect(try parseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status == 200)
        #expect(!(try parseResponse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive))
        for bad in ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                    "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n"] {
            #expect(throws: HeadError.self, "\(bad)") { try parseResponse(bad) }
        }
    }

    func scan(_ text: String, splitAt split: Int? = nil, strict: Bool = false) throws -> (consumed: Int, done: Bool, data: String) {
        var scanner = ChunkedScanner(strict: strict)
        let bytes = Array(text.utf8)
        var data: [UInt8] = []
        var consumed = 0
        let cuts = split.map { [0, $0, bytes.count] } ?? [0, bytes.count]
        for (from, to) in zip(cuts, cuts.dropFirst()) where !scanner.isDone {
            let piece = Array(bytes[from..<to])
            let used = try piece.withUnsafeBytes { raw in
                try scanner.scan(raw) { range in data.append(contentsOf: piece[range]) }
            }
            consumed += used
        }
        return (consumed, scanner.isDone, String(decoding: data, as: UTF8.self))
    }

    @Test("chunked: data and end found across any split; extensions and trailers; the rest left")
    func chunked() throws {
        let body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        for split in 0...body.utf8.count {
            let result = try scan(body + "NEXT", splitAt: split)
            #expect(result.consumed == body.utf8.count, "split \(split)")
            #expect(result.done)
            #expect(result.data == "hello world")
        }
        #expect(try scan("a\nabcdefghij\n0\n\n").done)  // bare LF line ends
        #expect(!(try scan("5\r\nhel").done))
    }

    @Test("chunked, strict (a request): every line ends in CRLF, whitespace after a size only before an extension; the grammar still passes across any split")
    func chunkedStrict() throws {
        let body = "5 ;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        for split in 0...body.utf8.count {
            let result = try scan(body + "NEXT", splitAt: split, strict: true)
            #expect(result.consumed == body.utf8.count && result.done && result.data == "hello world", "split \(split)")
        }
        for bad in ["a\nabcdefghij\r\n0\r\n\r\n",  // the size line
                    "a\r\nabcdefghij\n0\r\n\r\n",  // after the data
                    "1;e\nx\r\n0\r\n\r\n",  // the extension's line
                    "0\r\nX-Trailer: t\n\r\n",  // a trailer
                    "0\r\n\n",  // the last line
                    "2 \r\nhi\r\n0\r\n\r\n"] {  // whitespace, then no extension
            #expect(throws: ChunkedScanner.Failure.self, "\(bad.debugDescription)") { try scan(bad, strict: true) }
            #expect(try scan(bad, strict: false).done, "\(bad.debugDescription) is read leniently from a backend")
        }
    }

    @Test("chunked: bad sizes, overflow, bad line ends, oversized extensions and trailers are errors", arguments: [
        "g\r\n", "\r\n", "-1\r\n", "5\r\nhelloXX", "5\rhello", "1 2\r\n",
        "10000000000000000\r\n", "00000000000000001\r\n",
        "1;\(String(repeating: "e", count: 5000))\r\n",
        "0\r\n\(String(repeating: "X-T: \(String(repeating: "v", count: 100))\r\n", count: 700))\r\n",
        "0\r\n folded\r\n\r\n",
    ])
    func chunkedErrors(body: String) {
        #expect(throws: ChunkedScanner.Failure.self) { try scan(body) }
    }
}
