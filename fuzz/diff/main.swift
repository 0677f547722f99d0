// tugboat-fuzz-diff: differential fuzzing of the proxy's byte-level HTTP/1.1 request path against
// SwiftNIO's HTTPRequestDecoder (llhttp). Not shipped; run by fuzz/run.sh.
//
// Inputs are mutations of a seed set (byte flips, inserted tokens, case changes, duplicated or
// dropped lines, truncations, pipelined splices), deterministic from --seed. Each input is run
// through a model of the proxy's request path (ProxyHandler.acceptRequest + BodyCursor: skip up to
// 8 empty lines, HeadScanner.headLength, RequestHead.parse, the body by its framing through
// ChunkedScanner, then the next pipelined request unless the connection closes or upgrades) and
// through NIO's decoder in an EmbeddedChannel. For every request the byte path accepts, NIO must
// give the same method, target, version, header fields in order, keep-alive, and the same body
// (which pins the framing: a framing disagreement shows up as a different body, a missing end, or
// a different next request). Differences listed in `exceptions` are intended (with a reason each);
// anything else prints the input and exits 1.
//
//   tugboat-fuzz-diff --seconds 30 [--seed 1]        # prints inputs, accepted, compared, exceptions, mismatches, inputs/s
//   tugboat-fuzz-diff --iterations 1000000 --seed 7 [--keep-going]   # --keep-going: go on after a mismatch, group them
//   tugboat-fuzz-diff --show 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'   # one input (escaped as in the reports), in detail
// FUZZ_DIFF_DEBUG=1 prints each exception rewrite as it is tried.
import NIOCore
import NIOEmbedded
import NIOHTTP1
import TugboatProxy

#if canImport(Glibc)
import Glibc
#endif

// MARK: options

struct Options {
    var iterations: Int?
    var seconds: Double?
    var seed: UInt64 = 1
    var keepGoing = false
    var verbose = false
    /// --no-exceptions: report every difference, documented or not (to audit what the exceptions excuse).
    var noExceptions = false
    /// --show: one input, escaped like the mismatch reports (\\r \\n \\t \\xHH \\\\ \\"), compared in detail.
    var show: [UInt8]?

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { usage("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--iterations":
                guard let count = Int(value()) else { usage("--iterations takes a count") }
                options.iterations = count
            case "--seconds":
                guard let seconds = Double(value()) else { usage("--seconds takes a number") }
                options.seconds = seconds
            case "--seed":
                guard let seed = UInt64(value()) else { usage("--seed takes an unsigned integer") }
                options.seed = seed
            case "--keep-going": options.keepGoing = true
            case "--no-exceptions": options.noExceptions = true
            case "--show": options.show = unescaped(value())
            case "--verbose": options.verbose = true
            case "--help", "-h": usage(nil)
            default: usage("unknown argument \(arguments[index])")
            }
            index += 1
        }
        if options.iterations == nil && options.seconds == nil { options.iterations = 100_000 }
        return options
    }
}

func unescaped(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var bytes = Array(text.utf8)[...]
    while let byte = bytes.popFirst() {
        guard byte == 0x5C, let next = bytes.popFirst() else { out.append(byte); continue }
        switch next {
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "x"):
            let hex = String(decoding: bytes.prefix(2), as: UTF8.self)
            bytes = bytes.dropFirst(2)
            out.append(UInt8(hex, radix: 16) ?? 0x3F)
        default: out.append(next)
        }
    }
    return out
}

func usage(_ problem: String?) -> Never {
    if let problem { print("tugboat-fuzz-diff: \(problem)") }
    print("usage: tugboat-fuzz-diff [--iterations N] [--seconds T] [--seed S] [--keep-going] [--no-exceptions] [--verbose] | --show ESCAPED-INPUT")
    exit(problem == nil ? 0 : 2)
}

// MARK: helpers

func escaped(_ bytes: some Sequence<UInt8>, limit: Int = 2048) -> String {
    var out = ""
    var count = 0
    for byte in bytes {
        count += 1
        if count > limit { out += "…"; break }
        switch byte {
        case 0x0D: out += "\\r"
        case 0x0A: out += "\\n"
        case 0x09: out += "\\t"
        case 0x5C: out += "\\\\"
        case 0x22: out += "\\\""
        case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16)
            out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}

/// SplitMix64: small, fast, and the same sequence everywhere for a given seed.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }
    mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { below(denominator) < numerator }
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}

// MARK: seeds and mutations

let sentinel = [UInt8]("GET /__next HTTP/1.1\r\nHost: n\r\n\r\n")

let seeds: [[UInt8]] = [
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /path/to?q=1&r=%20x HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
    "HEAD /h HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip, br\r\n\r\n",
    "DELETE /d HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET http://a.example/abs?x HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    "PUT /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\nhello world",
    "PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 000003\r\n\r\nabc",
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Checksum: 1\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: a\r\ntransfer-encoding: CHUNKED\r\n\r\nff\r\n" + String(repeating: "z", count: 255) + "\r\n0\r\n\r\n",
    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /k2 HTTP/1.0\r\nHost: a\r\n\r\n",
    "POST /10 HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
    "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\nraw bytes",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Custom\r\nX-Custom: 1\r\nKeep-Alive: timeout=5\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\nX-Request-Id: abc\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   padded \t \r\nX-Utf8: caf\u{e9}\r\n\r\n",
    "\r\nGET /after-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\nHost: a\r\n\r\n",
    "PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /lf HTTP/1.1\nHost: a\n\n",
    // Smuggling shapes (mostly refused by the byte path; kept as mutation material).
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-CR: a\rb\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-NUL: a\u{0}b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \u{0B}chunked\r\n\r\n",
    "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
].map { [UInt8]($0) }

let tokens: [[UInt8]] = [
    "\r\n", "\n", "\r", " ", "\t", ":", ",", ";", "=", "\"", "\u{0}", "\u{7F}", "\u{0B}", "\u{0C}", "/", "?", "#", "%", "*",
    "\r\n\r\n", "\n\n", "\r\n ", "\r\n\t",
    "chunked", "Chunked", " chunked", "chunked ", "gzip", "identity", ", chunked", "chunked,",
    "Transfer-Encoding", "Transfer-Encoding: chunked\r\n", "Transfer-Encoding:chunked\r\n", "Transfer-Encoding: gzip\r\n",
    "Content-Length", "Content-Length: 0\r\n", "Content-Length: 5\r\n", "Content-Length: 1\r\n", "Content-Length: 99999999999999999999\r\n",
    "Connection: close\r\n", "Connection: keep-alive\r\n", "Connection: upgrade\r\n", "Upgrade: x\r\n", "Upgrade: h2c\r\n", "Connection: Upgrade, close\r\n",
    "Host: h\r\n", "Host", "Expect: 100-continue\r\n", "TE: trailers\r\n", "Trailer: X\r\n",
    "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/0.9", "GET", "POST", "HEAD", "TRACE", "get",
    "0\r\n\r\n", "5\r\nhello\r\n", "1;x=y\r\na\r\n", "0;ext\r\n", "0\r\nT: v\r\n\r\n", "ffffffffffffffff", "00000000000000000001",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "\u{80}", "\u{FF}",
].map { [UInt8]($0) }

let interestingBytes: [UInt8] = [0x00, 0x09, 0x0A, 0x0B, 0x0D, 0x20, 0x22, 0x2C, 0x2D, 0x2F, 0x30, 0x31, 0x35, 0x39, 0x3A, 0x3B,
                                 0x3D, 0x41, 0x46, 0x61, 0x66, 0x7F, 0x80, 0xC3, 0xFF] + Array("!#$%&'*+.^_`|~()<>@[]{}?\\".utf8)

/// Line boundaries (each range includes its LF).
func lines(_ input: [UInt8]) -> [Range<Int>] {
    var result: [Range<Int>] = []
    var start = 0
    for (index, byte) in input.enumerated() where byte == 0x0A {
        result.append(start..<(index + 1))
        start = index + 1
    }
    if start < input.count { result.append(start..<input.count) }
    return result
}

func mutate(_ original: [UInt8], _ random: inout Random) -> [UInt8] {
    var input = original
    let rounds = 1 + random.below(random.chance(1, in: 4) ? 6 : 2)
    for _ in 0..<rounds {
        let position = random.below(input.count + 1)
        switch random.below(12) {
        case 0:  // replace a byte
            if !input.isEmpty {
                input[min(position, input.count - 1)] = random.chance(3, in: 4)
                    ? interestingBytes[random.below(interestingBytes.count)] : UInt8(truncatingIfNeeded: random.next())
            }
        case 1, 2:  // insert a token
            input.insert(contentsOf: tokens[random.below(tokens.count)], at: position)
        case 3:  // delete a short range
            if !input.isEmpty {
                let start = min(position, input.count - 1)
                input.removeSubrange(start..<min(input.count, start + 1 + random.below(4)))
            }
        case 4:  // change the case of a range
            let end = min(input.count, position + 1 + random.below(24))
            for index in position..<end {
                let byte = input[index]
                if (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) { input[index] = byte ^ 0x20 }
            }
        case 5:  // duplicate a line
            let all = lines(input)
            if !all.isEmpty {
                let line = all[random.below(all.count)]
                let target = all[random.below(all.count)].lowerBound
                input.insert(contentsOf: input[line], at: target)
            }
        case 6:  // drop a line
            let all = lines(input)
            if all.count > 1 { input.removeSubrange(all[random.below(all.count)]) }
        case 7:  // truncate
            if random.chance(1, in: 2) { input.removeSubrange(position...) }
        case 8:  // CRLF -> LF, or LF -> CRLF, somewhere
            if let index = input[min(position, input.count)...].firstIndex(of: 0x0A) {
                if index > 0 && input[index - 1] == 0x0D { input.remove(at: index - 1) } else { input.insert(0x0D, at: index) }
            }
        case 9:  // splice another seed after (pipelining) or before
            let other = seeds[random.below(seeds.count)]
            if random.chance(3, in: 4) { input += other } else { input = other + input }
        case 10:  // change a digit (Content-Length, chunk sizes)
            if let index = input[min(position, input.count)...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                input[index] = 0x30 + UInt8(random.below(10))
            }
        default:  // insert whitespace around a colon or in a value
            if let index = input[min(position, input.count)...].firstIndex(of: 0x3A) {
                input.insert(random.chance(1, in: 2) ? 0x20 : 0x09, at: random.chance(1, in: 2) ? index : index + 1)
            }
        }
        if input.count > 8192 { input.removeSubrange(8192...) }
    }
    return input
}

// MARK: the byte path (a model of ProxyHandler.acceptRequest + BodyCursor)

struct ByteMessage {
    var headRange: Range<Int>
    /// Absolute offsets in the input.
    var methodRange: Range<Int>
    var targetRange: Range<Int>
    var headerLines: [(name: String, line: Range<Int>)]
    var method: String
    var target: String
    var minorVersion: Int
    var headers: [(String, String)]
    var keepAlive: Bool
    var isUpgrade: Bool
    var framing: BodyFraming
    /// The body's bytes as they came (framing included), and the data they carry.
    var rawBodyRange: Range<Int>
    var body: [UInt8] = []
    var bodyComplete: Bool
    var bodyFailure: ChunkedScanner.Failure?
}

enum ByteStop: Equatable {
    case consumedAll
    case incompleteHead
    case headTooLarge
    case rejectedHead(String)
    case bodyIncomplete
    case bodyRejected
    case closed
    case upgraded
}

/// ProxyConfiguration's default `max-head` (HeadLimits.maxHeadBytes).
let maxHeadBytes = 64 * 1024

func bytePath(_ input: [UInt8]) -> (messages: [ByteMessage], stop: ByteStop) {
    input.withUnsafeBytes { all in
        var messages: [ByteMessage] = []
        var offset = 0
        while true {
            var skipped = 0
            while skipped < 8, offset < all.count, all[offset] == 0x0D || all[offset] == 0x0A {
                offset += 1
                skipped += 1
            }
            guard offset < all.count else { return (messages, .consumedAll) }
            let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
            guard let length = HeadScanner.headLength(rest, from: 0) else {
                return (messages, rest.count > maxHeadBytes ? .headTooLarge : .incompleteHead)
            }
            guard length <= maxHeadBytes else { return (messages, .headTooLarge) }
            let headBytes = UnsafeRawBufferPointer(rebasing: rest[0..<length])
            let head: RequestHead
            do throws(HeadError) {
                head = try RequestHead.parse(headBytes)
            } catch {
                return (messages, .rejectedHead(error.reason))
            }
            func text(_ range: Range<Int>) -> String { String(decoding: headBytes[range], as: UTF8.self) }
            let bodyStart = offset + length
            var message = ByteMessage(
                headRange: offset..<bodyStart,
                methodRange: offset..<(offset + head.methodEnd),
                targetRange: (offset + head.targetStart)..<(offset + head.targetEnd),
                headerLines: head.headers.map { field in
                    (text(Int(field.lineStart)..<Int(field.nameEnd)).lowercased(), (offset + Int(field.lineStart))..<(offset + Int(field.lineEnd)))
                },
                method: text(0..<head.methodEnd),
                target: text(head.targetStart..<head.targetEnd),
                minorVersion: head.minorVersion,
                headers: head.headers.map { field in
                    (text(Int(field.lineStart)..<Int(field.nameEnd)), text(Int(field.valueStart)..<Int(field.valueEnd)))
                },
                keepAlive: head.keepAlive, isUpgrade: head.isUpgrade, framing: head.framing,
                rawBodyRange: bodyStart..<bodyStart, bodyComplete: true)
            let available = all.count - bodyStart
            var consumed = 0
            switch head.framing {
            case .none, .untilClose:
                break
            case .length(let length):
                consumed = min(length, available)
                message.body = Array(all[bodyStart..<(bodyStart + consumed)])
                message.bodyComplete = consumed == length
            case .chunked:
                var scanner = ChunkedScanner(strict: true)  // a request body, as BodyCursor reads it in the proxy
                let body = UnsafeRawBufferPointer(rebasing: all[bodyStart...])
                var data: [UInt8] = []
                do throws(ChunkedScanner.Failure) {
                    consumed = try scanner.scan(body) { range in data += body[range] }
                    message.bodyComplete = scanner.isDone
                } catch {
                    message.bodyFailure = error
                    message.bodyComplete = false
                    consumed = available
                }
                message.body = data
            }
            message.rawBodyRange = bodyStart..<(bodyStart + consumed)
            messages.append(message)
            if message.bodyFailure != nil { return (messages, .bodyRejected) }
            if !message.bodyComplete { return (messages, .bodyIncomplete) }
            offset = bodyStart + consumed
            if !head.keepAlive { return (messages, offset < all.count ? .closed : .consumedAll) }
            if head.isUpgrade { return (messages, offset < all.count ? .upgraded : .consumedAll) }
        }
    }
}

// MARK: NIO

struct NIOMessage {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    var ended = false
}

func nioPath(_ input: [UInt8]) -> (messages: [NIOMessage], error: Error?) {
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    try! channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
    var error: Error?
    do {
        try channel.writeInbound(channel.allocator.buffer(bytes: input))
    } catch let caught {
        error = caught
    }
    var messages: [NIOMessage] = []
    while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
        switch part {
        case .head(let head): messages.append(NIOMessage(head: head))
        case .body(let buffer): messages[messages.count - 1].body += buffer.readableBytesView
        case .end: messages[messages.count - 1].ended = true
        }
    }
    return (messages, error)
}

// MARK: documented exceptions

/// llhttp's method table (the methods it parses in requests); anything else is HPE_INVALID_METHOD.
let llhttpMethods: Set<String> = [
    "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE",
    "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY",
    "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR",
    "LINK", "UNLINK", "SOURCE", "QUERY",
]

/// An intended difference between the byte path and llhttp. An exception is never taken on faith:
/// when a request disagrees, the exceptions whose feature the input has are applied one after the
/// other as rewrites of the accepted requests' bytes that remove that feature (and nothing else),
/// and the rewritten input must then agree completely, on at least as many requests. So an
/// exception excuses exactly the difference it names; a mismatch from anything else still fails.
struct Exception: Sendable {
    let name: String
    let reason: String
    /// The NIO errors this difference produces: the exception is tried only when NIO failed with one.
    let errors: Set<String>
    /// Rewrites one accepted request's head bytes (absolute offsets in `message`, relative in `head`).
    var head: (@Sendable (_ head: [UInt8], _ message: ByteMessage) -> [UInt8])?
    /// Rewrites the raw bytes of an accepted chunked body (framing included).
    var chunked: (@Sendable (_ body: ArraySlice<UInt8>) -> [UInt8])?
}

/// Header value comparison: NIO keeps the whitespace after a value (llhttp strips only the leading
/// OWS); RFC 9110 §5.5 says it is not part of the value and the byte path trims it. So NIO's values
/// are compared with their trailing SP/HTAB removed: a normalisation of NIO's representation.
func trimmedTrailingWhitespace(_ value: String) -> String {
    var scalars = Substring(value)
    while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
    return String(scalars)
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var slice = Substring(self)
        // Character comparison: "\r\n" is one Character, and isWhitespace covers it.
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}

func isHex(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte) }

/// Rewrites a chunked body (as the byte path accepted it, possibly cut short by the input's end):
/// each framing line can lose the whitespace after the size, lose its
/// extensions; trailer lines can be dropped. Chunk data is copied untouched.
func rewriteChunked(_ body: ArraySlice<UInt8>, dropSizeWhitespace: Bool = false,
                    dropExtensions: Bool = false, dropTrailers: Bool = false) -> [UInt8] {
    var out: [UInt8] = []
    var index = body.startIndex
    let end = body.endIndex
    func lineEnding(_ contentEnd: Int, _ lf: Int) -> ArraySlice<UInt8> { body[contentEnd...lf] }
    while index < end {
        guard let lf = body[index..<end].firstIndex(of: 0x0A) else { out += body[index..<end]; return out }
        let contentEnd = lf > index && body[lf - 1] == 0x0D ? lf - 1 : lf
        var digitsEnd = index
        var size: UInt64 = 0
        while digitsEnd < contentEnd, isHex(body[digitsEnd]) {
            let byte = body[digitsEnd]
            let value = byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10
            size = size &<< 4 | UInt64(value)
            digitsEnd += 1
        }
        var whitespaceEnd = digitsEnd
        while whitespaceEnd < contentEnd, body[whitespaceEnd] == 0x20 || body[whitespaceEnd] == 0x09 { whitespaceEnd += 1 }
        out += body[index..<digitsEnd]
        if !dropSizeWhitespace && !(dropExtensions && whitespaceEnd < contentEnd) { out += body[digitsEnd..<whitespaceEnd] }
        if !dropExtensions { out += body[whitespaceEnd..<contentEnd] }
        out += lineEnding(contentEnd, lf)
        index = lf + 1
        if size == 0 {
            while index < end {
                guard let lf = body[index..<end].firstIndex(of: 0x0A) else {
                    if !dropTrailers { out += body[index..<end] }
                    return out
                }
                let contentEnd = lf > index && body[lf - 1] == 0x0D ? lf - 1 : lf
                if contentEnd == index {
                    out += lineEnding(contentEnd, lf)
                    out += body[(lf + 1)..<end]
                    return out
                }
                if !dropTrailers { out += body[index..<contentEnd] + lineEnding(contentEnd, lf) }
                index = lf + 1
            }
            return out
        }
        let dataEnd = index + Int(min(size, UInt64(end - index)))
        out += body[index..<dataEnd]
        index = dataEnd
        guard index < end else { return out }
        if body[index] == 0x0D, index + 1 < end {
            out += body[index...(index + 1)]
            index += 2
        } else {
            out += body[index..<end]
            return out
        }
    }
    return out
}

func nioErrors(_ errors: HTTPParserError...) -> Set<String> { Set(errors.map { "\($0)" }) }

/// Not an error: NIO parsed the request but its keep-alive differs (and nothing else does).
let keepAliveDiffers = "keep-alive differs"
/// Not an error either: NIO gave no head for a later request and reported nothing (it stopped parsing, as after an upgrade).
let nioStopped = "NIO stopped parsing"


let exceptions: [Exception] = [
    Exception(
        name: "bare-lf-line-end",
        reason: "RFC 9112 §2.2 lets a recipient take a bare LF as a line terminator of the start line and fields; the byte path does for a head (which the proxy writes anew, with CRLF), llhttp as NIO runs it (no lenient flags) wants CRLF and fails with 'invalid HTTP version' / 'invalid character in header' / HPE_CR_EXPECTED ('unknown'). (A chunked body's lines are relayed as they came, so there the byte path wants CRLF too.) Rewrite: CR inserted before every bare LF of the head.",
        errors: nioErrors(.invalidVersion, .invalidHeaderToken, .unknown, .lfExpected, .invalidChunkSize, .strictModeAssertion, .invalidConstant),
        head: { head, _ in
            var out: [UInt8] = []
            var previous: UInt8 = 0
            for byte in head {
                if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
                out.append(byte)
                previous = byte
            }
            return out
        }),
    Exception(
        name: "extension-method",
        reason: "RFC 9110 §9.1: a method is any token, and the proxy forwards extension methods (and lowercase ones, which are different methods); llhttp knows only its fixed method table and fails with 'invalid HTTP method'. Rewrite: a method outside llhttp's table becomes PROPFIND (in the table, no special meaning to either parser).",
        errors: nioErrors(.invalidMethod),
        head: { head, message in
            guard !llhttpMethods.contains(message.method) else { return head }
            let methodLength = message.methodRange.count
            return Array("PROPFIND".utf8) + head[methodLength...]
        }),
    Exception(
        name: "repeated-equal-content-length",
        reason: "RFC 9110 §8.6 allows a recipient to accept several Content-Length fields with the same value as one; the byte path does (different values are refused), llhttp (no lenient flags) fails with 'unexpected content-length header'. Rewrite: every Content-Length line after the first removed.",
        errors: nioErrors(.unexpectedContentLength),
        head: { head, message in
            let lines = message.headerLines.filter { $0.name == "content-length" }.dropFirst()
            guard !lines.isEmpty else { return head }
            var out = head
            for line in lines.reversed() {
                out.removeSubrange((line.line.lowerBound - message.headRange.lowerBound)..<(line.line.upperBound - message.headRange.lowerBound))
            }
            return out
        }),
    Exception(
        name: "request-target-form",
        reason: "The byte path checks a request target's form (RFC 9112 §3.2: origin-form '/…', absolute-form 'scheme://…', '*' for OPTIONS) and that it is visible US-ASCII, and forwards it byte for byte; llhttp's URL state machine also rejects some characters inside an otherwise valid target (after '#' or '?', in the authority of an absolute-form) with 'invalid URL'. Rewrite: the target becomes /.",
        errors: nioErrors(.invalidURL),
        head: { head, message in
            let start = message.targetRange.lowerBound - message.headRange.lowerBound
            let end = message.targetRange.upperBound - message.headRange.lowerBound
            guard head[start..<end].elementsEqual([0x2F]) == false else { return head }
            return Array(head[..<start]) + [0x2F] + head[end...]
        }),
    Exception(
        name: "whitespace-after-chunk-size",
        reason: "RFC 9112 §7.1.1 chunk-ext allows BWS before ';'; the byte path skips SP/HTAB between the size digits and a ';' (and refuses them before the line end), llhttp (no lenient_spaces_after_chunk_size) fails with 'invalid character in chunk size header'. Rewrite: the whitespace after each chunk size removed.",
        errors: nioErrors(.invalidChunkSize),
        chunked: { rewriteChunked($0, dropSizeWhitespace: true) }),
    Exception(
        name: "chunk-extension-syntax",
        reason: "The byte path does not parse chunk extensions (it relays them; each may hold any field-vchar/SP/HTAB up to 4 KiB); llhttp parses them as token[=token|quoted-string] and fails on other bytes ('strict mode assertion', 'invalid character in chunk size header'). Rewrite: extensions removed.",
        errors: nioErrors(.strictModeAssertion, .invalidChunkSize, .invalidCharactersUsed),
        chunked: { rewriteChunked($0, dropExtensions: true) }),
    Exception(
        name: "trailer-line-syntax",
        reason: "The byte path does not parse trailer lines (it relays them; it refuses only control bytes, bare CR, and a line starting with whitespace), llhttp parses them as header fields and fails on a line without a colon or with a non-token name ('invalid character in header'), and even acts on some fields there: it checks a Content-Length ('invalid character in content-length header' on an overflowing one), and a trailer 'Connection: close' makes it refuse the next pipelined request ('data received after completed connection: close message'). RFC 9110 §6.5.1: framing and connection fields are not processed from trailers; the byte path ignores them (and relays the trailer section). Rewrite: trailer lines removed.",
        errors: nioErrors(.invalidHeaderToken, .invalidCharactersUsed, .unknown, .lfExpected, .invalidContentLength,
                          .unexpectedContentLength, .closedConnection).union([nioStopped]),
        chunked: { rewriteChunked($0, dropTrailers: true) }),
    Exception(
        name: "content-length-trailing-whitespace",
        reason: "RFC 9110 §5.5: whitespace around a field value is not part of it, so 'Content-Length: 3<HTAB>' is 3; the byte path trims it, llhttp fails with 'invalid character in content-length header' on a HTAB after the digits. Rewrite: SP/HTAB after a Content-Length value removed.",
        errors: nioErrors(.invalidContentLength),
        head: { head, message in
            var out = head
            for line in message.headerLines.reversed() where line.name == "content-length" {
                let start = line.line.lowerBound - message.headRange.lowerBound
                var contentEnd = line.line.upperBound - message.headRange.lowerBound - 1
                if contentEnd > start && out[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                var valueEnd = contentEnd
                while valueEnd > start, out[valueEnd - 1] == 0x20 || out[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                out.removeSubrange(valueEnd..<contentEnd)
            }
            return out
        }),
    Exception(
        name: "transfer-encoding-list-syntax",
        reason: "RFC 9110 §5.6.1/§10.1.4: Transfer-Encoding is a case-insensitive list: OWS around elements, empty elements ignored, several field lines are one list. The byte path accepts exactly one chunked, last, with nothing else but such syntax ('chunked,', ', chunked', 'chunked<HTAB>', an empty TE line before 'chunked'); llhttp (strict) fails on some of them with HPE_INVALID_TRANSFER_ENCODING ('unknown'). Rewrite: the Transfer-Encoding lines become one 'Transfer-Encoding: chunked' line.",
        errors: nioErrors(.unknown, .invalidHeaderToken),
        head: { head, message in
            let lines = message.headerLines.filter { $0.name == "transfer-encoding" }
            guard let last = lines.last else { return head }
            var out = head
            for line in lines.reversed() {
                let range = (line.line.lowerBound - message.headRange.lowerBound)..<(line.line.upperBound - message.headRange.lowerBound)
                if line.line == last.line {
                    out.replaceSubrange(range, with: Array("Transfer-Encoding: chunked\r\n".utf8))
                } else {
                    out.removeSubrange(range)
                }
            }
            return out
        }),
    Exception(
        name: "connection-list-syntax",
        reason: "Connection is a case-insensitive token list with OWS (RFC 9110 §7.6.1, §5.6.1); the byte path reads 'close<HTAB>' or 'close ,x' as close, llhttp matches its close/keep-alive/upgrade tokens only when followed by SP, ',' or the line end, so it misses them after a HTAB and keeps the connection alive where the byte path closes it (safer). Rewrite: Connection values re-listed as trimmed elements joined by ', '.",
        errors: [keepAliveDiffers, "\(HTTPParserError.unknown)"],
        head: { head, message in
            var out = head
            for line in message.headerLines.reversed() where line.name == "connection" {
                let start = line.line.lowerBound - message.headRange.lowerBound
                var contentEnd = line.line.upperBound - message.headRange.lowerBound - 1
                if contentEnd > start && out[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                guard let colon = out[start..<contentEnd].firstIndex(of: 0x3A) else { continue }
                let elements = out[(colon + 1)..<contentEnd].split(separator: 0x2C).map { element in
                    element.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                }.filter { !$0.isEmpty }
                out.replaceSubrange((colon + 1)..<contentEnd, with: [0x20] + Array(elements.map { Array($0) }.joined(separator: [0x2C, 0x20])))
            }
            return out
        }),
    Exception(
        name: "http10-close-with-keep-alive",
        reason: "RFC 9112 §9.3: with the close option the connection does not persist. For an HTTP/1.0 request listing keep-alive and then close, the byte path closes; llhttp keeps an HTTP/1.0 connection alive whenever keep-alive is listed, close or not. Rewrite: keep-alive removed from the Connection values of a request that also lists close.",
        errors: [keepAliveDiffers],
        head: { head, message in
            let lines = message.headerLines.filter { $0.name == "connection" }.map { line in
                (line.line.lowerBound - message.headRange.lowerBound)..<(line.line.upperBound - message.headRange.lowerBound)
            }
            func tokens(_ range: Range<Int>) -> [String] {
                let text = String(decoding: head[range], as: UTF8.self)
                guard let colon = text.firstIndex(of: ":") else { return [] }
                return text[text.index(after: colon)...].split(separator: ",").map { $0.trimmingWhitespace().lowercased() }
            }
            guard lines.contains(where: { tokens($0).contains("close") }) else { return head }
            var out = head
            for range in lines.reversed() {
                let kept = tokens(range).filter { $0 != "keep-alive" && !$0.isEmpty }
                out.replaceSubrange(range, with: Array("Connection: \(kept.joined(separator: ", "))\r\n".utf8))
            }
            return out
        }),
    Exception(
        name: "http10-upgrade-ignored",
        reason: "RFC 9110 §7.8: a server must ignore Upgrade in an HTTP/1.0 request; the byte path does (an HTTP/1.0 request is never an upgrade) and goes on with the next pipelined request, llhttp treats it as an upgrade and stops parsing. Rewrite: Upgrade lines removed from HTTP/1.0 requests.",
        errors: [nioStopped],
        head: { head, message in
            guard message.minorVersion == 0 else { return head }
            var out = head
            for line in message.headerLines.reversed() where line.name == "upgrade" {
                out.removeSubrange((line.line.lowerBound - message.headRange.lowerBound)..<(line.line.upperBound - message.headRange.lowerBound))
            }
            return out
        }),
    Exception(
        name: "h2c-upgrade-ignored",
        reason: "An h2c upgrade (RFC 7540 §3.2) is never passed on, or a backend taking it would speak HTTP/2 with the client through a tunnel, past the proxy's rules (h2c smuggling); the byte path treats a request whose Upgrade lists h2c as a plain one (RFC 9110 §7.8: a server may ignore Upgrade) and goes on with the next pipelined request, llhttp treats it as an upgrade and stops parsing. Rewrite: Upgrade lines removed from a request that is not an upgrade for the byte path.",
        errors: [nioStopped],
        head: { head, message in
            guard !message.isUpgrade else { return head }
            var out = head
            for line in message.headerLines.reversed() where line.name == "upgrade" {
                out.removeSubrange((line.line.lowerBound - message.headRange.lowerBound)..<(line.line.upperBound - message.headRange.lowerBound))
            }
            return out
        }),
]

/// The input with `exception` applied to every request the byte path accepted.
func rewrite(_ input: [UInt8], _ messages: [ByteMessage], with exception: Exception) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(input.count + 16)
    var cursor = 0
    for message in messages {
        out += input[cursor..<message.headRange.lowerBound]
        let head = Array(input[message.headRange])
        out += exception.head?(head, message) ?? head
        let body = input[message.rawBodyRange]
        if message.framing == .chunked, message.bodyFailure == nil, let chunked = exception.chunked {
            out += chunked(body)
        } else {
            out += body
        }
        cursor = message.rawBodyRange.upperBound
    }
    out += input[cursor...]
    return out
}

// MARK: comparison

struct Mismatch: Error {
    let category: String
    let detail: String
    /// Set when the mismatch is NIO failing on what the byte path accepted (the only kind an exception can excuse).
    var nioFailure: String? = nil
}

struct Counters {
    var inputs = 0
    var byteAccepted = 0  // inputs where the byte path accepted at least one request head
    var compared = 0  // requests compared field by field with NIO
    var bodiesCompared = 0
    var mismatches = 0
    var excepted: [String: Int] = [:]
    var byteStricter: [String: Int] = [:]  // NIO accepted a request the byte path refused: by reason
}

func errorText(_ error: Error?) -> String { error.map { String(describing: $0) } ?? "none" }

/// Compares one input; nil when both agree on every request the byte path accepted.
func strictCompare(_ input: [UInt8], _ byte: (messages: [ByteMessage], stop: ByteStop), _ counters: inout Counters) -> Mismatch? {
    let (byteMessages, stop) = byte
    let nio = nioPath(input)
    for (index, message) in byteMessages.enumerated() {
        guard index < nio.messages.count else {
            return Mismatch(category: "nio-no-head error=\(errorText(nio.error))",
                            detail: "the byte path accepted request \(index + 1) (\(message.method) \(message.target)); NIO gave no head (error: \(errorText(nio.error)))",
                            nioFailure: nio.error.map { "\($0)" } ?? nioStopped)
        }
        let other = nio.messages[index]
        counters.compared += 1
        var differences: [String] = []
        if other.head.method.rawValue != message.method { differences.append("method \(message.method) vs NIO \(other.head.method.rawValue)") }
        if other.head.uri != message.target { differences.append("target \(message.target) vs NIO \(other.head.uri)") }
        if other.head.version != HTTPVersion(major: 1, minor: message.minorVersion) {
            differences.append("version 1.\(message.minorVersion) vs NIO \(other.head.version)")
        }
        let nioHeaders = other.head.headers.map { ($0.name, trimmedTrailingWhitespace($0.value)) }
        if nioHeaders.count != message.headers.count || !zip(nioHeaders, message.headers).allSatisfy({ $0 == $1 }) {
            differences.append("headers \(message.headers) vs NIO \(nioHeaders)")
        }
        if other.head.isKeepAlive != message.keepAlive { differences.append("keep-alive \(message.keepAlive) vs NIO \(other.head.isKeepAlive)") }
        if !differences.isEmpty {
            let onlyKeepAlive = differences.count == 1 && other.head.isKeepAlive != message.keepAlive
            return Mismatch(category: "head-fields " + differences.map { String($0.prefix(while: { $0 != " " })) }.joined(separator: ","),
                            detail: "request \(index + 1): " + differences.joined(separator: "; "),
                            nioFailure: onlyKeepAlive ? keepAliveDiffers : nil)
        }
        // The body: only what the byte path accepted is compared.
        if let failure = message.bodyFailure {
            if other.ended { counters.byteStricter["chunked body: \(failure)", default: 0] += 1 }
            return nil
        }
        if message.bodyComplete {
            counters.bodiesCompared += 1
            if other.body != message.body || !other.ended {
                return Mismatch(category: "body ended=\(other.ended) framing=\(message.framing) error=\(errorText(nio.error))",
                                detail: "request \(index + 1) (\(message.framing)): byte path body \(message.body.count) bytes \"\(escaped(message.body, limit: 200))\", NIO \(other.body.count) bytes \"\(escaped(other.body, limit: 200))\" ended=\(other.ended) error=\(errorText(nio.error))",
                                nioFailure: other.ended ? nil : nio.error.map { "\($0)" })
            }
        } else if other.ended || other.body != message.body {
            // The input ends inside the body: NIO must not have finished it, and has the same data so far.
            return Mismatch(category: "partial-body ended=\(other.ended) framing=\(message.framing) error=\(errorText(nio.error))",
                            detail: "request \(index + 1) (\(message.framing)), input ends inside the body: byte path has \(message.body.count) bytes, NIO \(other.body.count) ended=\(other.ended) error=\(errorText(nio.error))",
                            nioFailure: other.ended ? nil : nio.error.map { "\($0)" })
        }
    }
    switch stop {
    case .consumedAll, .incompleteHead:
        if nio.messages.count > byteMessages.count {
            return Mismatch(category: "nio-extra-request stop=\(stop)",
                            detail: "NIO parsed \(nio.messages.count) requests, the byte path \(byteMessages.count) (stop: \(stop))")
        }
    case .rejectedHead(let reason):
        if nio.messages.count > byteMessages.count { counters.byteStricter[reason, default: 0] += 1 }
    case .headTooLarge:
        if nio.messages.count > byteMessages.count { counters.byteStricter["head too large", default: 0] += 1 }
    case .upgraded:
        // The byte path hands the rest to the tunnel: NIO must not have parsed it as requests.
        if nio.messages.count > byteMessages.count {
            return Mismatch(category: "upgrade", detail: "the byte path upgrades after request \(byteMessages.count); NIO parsed \(nio.messages.count) requests")
        }
    case .bodyIncomplete, .bodyRejected, .closed:
        break
    }
    return nil
}

func compare(_ input: [UInt8], _ counters: inout Counters, exceptions: [Exception] = exceptions) -> Mismatch? {
    let byte = bytePath(input)
    if !byte.messages.isEmpty { counters.byteAccepted += 1 }
    guard let mismatch = strictCompare(input, byte, &counters) else { return nil }
    // NIO failed on something the byte path accepted: try the documented exceptions, each only
    // for the NIO error it explains, cumulatively, on the accepted requests.
    var current = input
    var currentMessages = byte.messages
    var failure = mismatch.nioFailure
    var applied: [String] = []
    while let error = failure {
        guard let (exception, next) = exceptions.lazy.filter({ !applied.contains($0.name) && $0.errors.contains(error) })
            .map({ ($0, rewrite(current, currentMessages, with: $0)) })
            .first(where: { $0.1 != current }) else { break }
        applied.append(exception.name)
        current = next
        if getenv("FUZZ_DIFF_DEBUG") != nil { print("applied \(exception.name): \"\(escaped(current))\"") }
        let rewritten = bytePath(current)
        guard rewritten.messages.count >= byte.messages.count else { break }
        currentMessages = rewritten.messages
        var scratch = Counters()
        guard let remaining = strictCompare(current, rewritten, &scratch) else {
            for name in applied { counters.excepted[name, default: 0] += 1 }
            return nil
        }
        failure = remaining.nioFailure
    }
    return mismatch
}

// MARK: main

func show(_ input: [UInt8]) -> Int32 {
    print("input: \"\(escaped(input))\"")
    let byte = bytePath(input)
    for message in byte.messages {
        print("byte path: \(message.method) \(message.target) HTTP/1.\(message.minorVersion) keep-alive=\(message.keepAlive) upgrade=\(message.isUpgrade) framing=\(message.framing) body=\"\(escaped(message.body, limit: 200))\" complete=\(message.bodyComplete) failure=\(String(describing: message.bodyFailure))")
        for header in message.headers { print("    \(header.0): \(header.1)") }
    }
    print("byte path stop: \(byte.stop)")
    let nio = nioPath(input)
    for message in nio.messages {
        print("NIO: \(message.head.method.rawValue) \(message.head.uri) \(message.head.version) keep-alive=\(message.head.isKeepAlive) body=\"\(escaped(message.body, limit: 200))\" ended=\(message.ended)")
        for header in message.head.headers { print("    \(header.name): \(escaped(header.value.utf8))") }
    }
    print("NIO error: \(errorText(nio.error))")
    var counters = Counters()
    if let mismatch = compare(input, &counters) {
        print("MISMATCH [\(mismatch.category)] \(mismatch.detail)")
        return 1
    }
    print("agree" + (counters.excepted.isEmpty ? "" : " (documented exceptions: \(counters.excepted.keys.sorted().joined(separator: ", ")))"))
    return 0
}

func run(_ options: Options) -> Int32 {
    if let input = options.show { return show(input) }
    var random = Random(state: options.seed)
    var counters = Counters()
    var categories: [String: (count: Int, example: [UInt8], detail: String)] = [:]
    let clock = ContinuousClock()
    let started = clock.now
    let deadline = options.seconds.map { started + .milliseconds(Int64($0 * 1000)) }

    var iteration = 0
    while true {
        if let iterations = options.iterations, iteration >= iterations { break }
        if let deadline, iteration % 64 == 0, clock.now >= deadline { break }
        iteration += 1
        var input: [UInt8]
        if iteration <= seeds.count {
            input = seeds[iteration - 1]
        } else {
            input = mutate(seeds[random.below(seeds.count)], &random)
            if random.chance(1, in: 3) { input += sentinel }
        }
        counters.inputs += 1
        guard let mismatch = compare(input, &counters, exceptions: options.noExceptions ? [] : exceptions) else { continue }
        counters.mismatches += 1
        if categories[mismatch.category] == nil {
            categories[mismatch.category] = (1, input, mismatch.detail)
            print("MISMATCH [\(mismatch.category)] \(mismatch.detail)")
            print("  input: \"\(escaped(input))\"")
        } else {
            categories[mismatch.category]!.count += 1
        }
        if !options.keepGoing { break }
    }
    if options.keepGoing && !categories.isEmpty {
        print("mismatch categories:")
        for (category, entry) in categories.sorted(by: { $0.value.count > $1.value.count }) {
            print("  \(entry.count)× \(category)\n      \(entry.detail.prefix(300))\n      input: \"\(escaped(entry.example, limit: 400))\"")
        }
    }

    let elapsed = clock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("tugboat-fuzz-diff: seed \(options.seed), \((seconds * 10).rounded() / 10) s")
    print("  inputs:                 \(counters.inputs)")
    print("  accepted by byte path:  \(counters.byteAccepted) (inputs with at least one request accepted)")
    print("  compared:               \(counters.compared) requests (\(counters.bodiesCompared) with a complete body)")
    print("  documented exceptions:  \(counters.excepted.values.reduce(0, +))")
    for (name, count) in counters.excepted.sorted(by: { $0.value > $1.value }) { print("    \(name): \(count)") }
    print("  byte path stricter:     \(counters.byteStricter.values.reduce(0, +)) (NIO accepted what the byte path refused)")
    for (reason, count) in counters.byteStricter.sorted(by: { $0.value > $1.value }).prefix(options.verbose ? 100 : 8) {
        print("    \(reason): \(count)")
    }
    print("  mismatches:             \(counters.mismatches)")
    print("  inputs/s:               \(Int(Double(counters.inputs) / max(seconds, 0.001)))")
    return counters.mismatches == 0 ? 0 : 1
}

exit(run(Options.parse(CommandLine.arguments)))
