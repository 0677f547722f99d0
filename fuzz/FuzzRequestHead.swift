// libFuzzer entry for the byte-level HTTP/1.1 parsers (Sources/TugboatProxy/HTTP1): compiled by
// fuzz/run.sh with swiftc directly against the six parser files, not part of the package.
//
//   swiftc -O -sanitize=fuzzer,address -parse-as-library -package-name tugboat \
//       HeadScanner.swift RequestHead.swift ResponseHead.swift ChunkedScanner.swift \
//       HeaderKind.swift HeadError.swift fuzz/FuzzRequestHead.swift -o fuzz-http1
//
// Every buffer handed to a parser is its own malloc block of exactly the right size, so a read
// one byte past it is an AddressSanitizer report (heap-buffer-overflow), not a silent read.
// Any disagreement between two ways of feeding the same bytes is a trap with a message.
#if canImport(Glibc)
import Glibc
#endif

/// A malloc block holding exactly `count` bytes (no slack: ASan's redzone starts right after).
struct ExactBytes {
    let pointer: UnsafeMutableRawPointer?
    let count: Int

    init(_ source: UnsafeRawBufferPointer) {
        count = source.count
        if count == 0 {
            pointer = nil
        } else {
            pointer = malloc(count)!
            memcpy(pointer!, source.baseAddress!, count)
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    func free() { if let pointer { Glibc.free(pointer) } }
}

func fail(_ message: String, _ input: UnsafeRawBufferPointer) -> Never {
    var escaped = ""
    for byte in input.prefix(512) {
        switch byte {
        case 0x0D: escaped += "\\r"
        case 0x0A: escaped += "\\n"
        case 0x5C: escaped += "\\\\"
        case 0x20...0x7E: escaped.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16)
            escaped += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    fatalError("fuzz-http1: \(message)\n  input (\(input.count) bytes): \"\(escaped)\"")
}

/// FNV-1a: picks split points and limits from the input, so a crash reproduces from the file alone.
func fnv(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

/// Up to three split points in 1..<count, ascending, distinct.
func splitPoints(_ count: Int, _ seed: UInt64) -> [Int] {
    guard count > 1 else { return [] }
    var points: [Int] = []
    for shift in [0, 21, 42] as [UInt64] {
        let point = 1 + Int((seed >> shift) & 0x1F_FFFF) % (count - 1)
        if !points.contains(point) { points.append(point) }
    }
    return points.sorted()
}

// MARK: head

/// headLength on growing prefixes (each its own exact block), resuming with `from:` as the proxy
/// does, must find the same end as one call on everything.
func checkTrickledHead(_ input: UnsafeRawBufferPointer, whole: Int?, seed: UInt64) {
    var scanned = 0
    for end in splitPoints(input.count, seed) + [input.count] {
        let prefix = ExactBytes(UnsafeRawBufferPointer(rebasing: input[0..<end]))
        let found = HeadScanner.headLength(prefix.bytes, from: scanned)
        prefix.free()
        let expected: Int? = whole.flatMap { $0 <= end ? $0 : nil }
        if found != expected {
            fail("headLength on a \(end)-byte prefix from \(scanned) gave \(String(describing: found)), whole input \(String(describing: whole))", input)
        }
        if found != nil { return }
        scanned = end
    }
}

func checkFields(_ fields: [HeaderField], from start: Int, _ head: UnsafeRawBufferPointer, _ input: UnsafeRawBufferPointer) {
    var previousEnd = start
    for field in fields {
        let lineStart = Int(field.lineStart), nameEnd = Int(field.nameEnd)
        let valueStart = Int(field.valueStart), valueEnd = Int(field.valueEnd), lineEnd = Int(field.lineEnd)
        guard lineStart == previousEnd, lineStart < nameEnd, valueStart > nameEnd,
              valueStart <= valueEnd, valueEnd < lineEnd, lineEnd <= head.count, head[nameEnd] == 0x3A,
              head[lineEnd - 1] == 0x0A else {
            fail("header field offsets out of order: \(lineStart) \(nameEnd) \(valueStart) \(valueEnd) \(lineEnd) of \(head.count)", input)
        }
        previousEnd = lineEnd
    }
}

func checkRequest(_ head: UnsafeRawBufferPointer, limits: HeadLimits, _ input: UnsafeRawBufferPointer) {
    let request: RequestHead
    do throws(HeadError) {
        request = try RequestHead.parse(head, limits: limits)
    } catch {
        if error.reason.isEmpty || !(400...505).contains(error.status) { fail("odd HeadError \(error)", input) }
        return
    }
    guard request.methodEnd > 0, request.targetStart == request.methodEnd + 1, request.targetEnd > request.targetStart,
          request.targetEnd - request.targetStart <= limits.maxTargetBytes,
          request.requestLineEnd > request.targetEnd, request.requestLineEnd <= head.count,
          request.minorVersion == 0 || request.minorVersion == 1,
          request.headers.count <= limits.maxHeaderCount else {
        fail("request head fields out of range", input)
    }
    checkFields(request.headers, from: request.requestLineEnd, head, input)
    if request.minorVersion == 1 && request.hostIndex == nil { fail("HTTP/1.1 accepted without Host", input) }
    switch request.framing {
    case .chunked where request.minorVersion == 0: fail("chunked accepted for HTTP/1.0", input)
    case .untilClose: fail("a request framed until close", input)
    case .length(let length) where length < 0: fail("negative Content-Length", input)
    default: break
    }
    if request.method == .connect { fail("CONNECT accepted", input) }
    for field in request.headers { _ = request.isConnectionNamed(field, in: head) }
}

func checkResponse(_ head: UnsafeRawBufferPointer, method: RequestMethod, limits: HeadLimits, _ input: UnsafeRawBufferPointer) {
    let response: ResponseHead
    do throws(HeadError) {
        response = try ResponseHead.parse(head, requestMethod: method, limits: limits)
    } catch {
        return
    }
    guard (100...999).contains(response.status), response.statusLineEnd <= head.count, response.statusLineEnd >= 13,
          response.headers.count <= limits.maxHeaderCount else {
        fail("response head fields out of range", input)
    }
    checkFields(response.headers, from: response.statusLineEnd, head, input)
    if method == .head || response.status < 200 || response.status == 204 || response.status == 304 {
        if response.framing != .none { fail("a body framed where none may be", input) }
    }
    if response.framing == .untilClose && response.keepAlive { fail("keep-alive with a body until close", input) }
    for field in response.headers { _ = response.isConnectionNamed(field, in: head) }
}

// MARK: chunked

struct ChunkedOutcome: Equatable {
    var consumed = 0
    var isDone = false
    var failure: ChunkedScanner.Failure?
    var dataBytes = 0
    var dataHash: UInt64 = 0xcbf2_9ce4_8422_2325
}

func scanChunked(_ pieces: [UnsafeRawBufferPointer], maxExtension: Int, maxTrailer: Int, strict: Bool,
                 _ input: UnsafeRawBufferPointer) -> ChunkedOutcome {
    var scanner = ChunkedScanner(maxExtensionBytes: maxExtension, maxTrailerBytes: maxTrailer, strict: strict)
    var outcome = ChunkedOutcome()
    for piece in pieces {
        let copy = ExactBytes(piece)
        defer { copy.free() }
        let bytes = copy.bytes
        var lastEnd = 0
        var badRange = false
        let consumed: Int
        do throws(ChunkedScanner.Failure) {
            consumed = try scanner.scan(bytes) { range in
                if range.lowerBound < lastEnd || range.upperBound > bytes.count || range.isEmpty { badRange = true; return }
                lastEnd = range.upperBound
                outcome.dataBytes += range.count
                for byte in UnsafeRawBufferPointer(rebasing: bytes[range]) {
                    outcome.dataHash = (outcome.dataHash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
                }
            }
        } catch {
            // Where in the input it failed is not reported: compare the error and the data before it.
            outcome.failure = error
            outcome.consumed = 0
            outcome.isDone = false
            return outcome
        }
        if badRange { fail("chunk data range out of order or out of bounds", input) }
        if consumed < 0 || consumed > bytes.count || lastEnd > consumed { fail("chunked scan consumed \(consumed) of \(bytes.count)", input) }
        outcome.consumed += consumed
        outcome.isDone = scanner.isDone
        if consumed < bytes.count {
            if !scanner.isDone { fail("chunked scan stopped early without being done", input) }
            return outcome
        }
        if scanner.isDone { break }
    }
    if scanner.isDone {
        // Once done, nothing more is the body's.
        let extra: [UInt8] = [0x30, 0x0D, 0x0A]
        let more = extra.withUnsafeBytes { bytes in
            do throws(ChunkedScanner.Failure) { return try scanner.scan(bytes) } catch { return -1 }
        }
        if more != 0 { fail("chunked scan took bytes after the end", input) }
    }
    return outcome
}

func checkChunked(_ body: UnsafeRawBufferPointer, seed: UInt64, _ input: UnsafeRawBufferPointer) {
    let small = seed & 0x700 == 0
    let maxExtension = small ? 4 : 4096
    let maxTrailer = small ? 8 : 64 * 1024
    let strict = seed & 0x800 == 0  // a request's body (CRLF only), or a response's (bare LF tolerated)
    let whole = scanChunked([body], maxExtension: maxExtension, maxTrailer: maxTrailer, strict: strict, input)
    if strict, whole.failure == nil {
        // What the strict scanner takes, the lenient one takes the same way.
        let lenient = scanChunked([body], maxExtension: maxExtension, maxTrailer: maxTrailer, strict: false, input)
        if lenient != whole { fail("chunked scan strict \(whole) but lenient \(lenient)", input) }
    }
    var pieces: [UnsafeRawBufferPointer] = []
    var start = 0
    for point in splitPoints(body.count, seed >> 3) + [body.count] {
        pieces.append(UnsafeRawBufferPointer(rebasing: body[start..<point]))
        start = point
    }
    let split = scanChunked(pieces, maxExtension: maxExtension, maxTrailer: maxTrailer, strict: strict, input)
    if split != whole { fail("chunked scan in one go \(whole) but split \(split)", input) }
    if body.count <= 96 {
        let bytewise = scanChunked((0..<body.count).map { UnsafeRawBufferPointer(rebasing: body[$0..<($0 + 1)]) },
                                   maxExtension: maxExtension, maxTrailer: maxTrailer, strict: strict, input)
        if bytewise != whole { fail("chunked scan in one go \(whole) but byte by byte \(bytewise)", input) }
    }
}

// MARK: entry

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let copy = ExactBytes(UnsafeRawBufferPointer(start: data, count: size))
    defer { copy.free() }
    let input = copy.bytes
    let seed = fnv(input)

    let headLength = HeadScanner.headLength(input, from: 0)
    if let headLength, headLength < 1 || headLength > input.count || input[headLength - 1] != 0x0A {
        fail("headLength \(headLength) out of range", input)
    }
    checkTrickledHead(input, whole: headLength, seed: seed)

    if let headLength {
        let head = ExactBytes(UnsafeRawBufferPointer(rebasing: input[0..<headLength]))
        defer { head.free() }
        var limits = HeadLimits()
        if seed & 0x7 == 0 {  // one input in eight: tight limits, to reach the limit paths
            limits.maxTargetBytes = 8
            limits.maxHeaderCount = 2
        }
        checkRequest(head.bytes, limits: limits, input)
        let methods: [RequestMethod] = [.get, .head, .post, .connect]
        checkResponse(head.bytes, method: methods[Int((seed >> 8) & 3)], limits: limits, input)
    }

    let body = UnsafeRawBufferPointer(rebasing: input[(headLength ?? 0)...])
    checkChunked(body, seed: seed, input)
    return 0
}
