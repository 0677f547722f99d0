import Foundation
import NIOCore
import NIOHPACK
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/2 client over real TLS (ALPN `h2`): the test writes frames byte for byte (so it can
/// send what no well-behaved client would: floods, malformed blocks, HPACK bombs) and reads the
/// server's frames back. Header blocks are written without Huffman coding or indexing, so a
/// test can put any bytes in them; the server's blocks are decoded with NIOHPACK.
final class H2Client: @unchecked Sendable {
    struct Frame: CustomStringConvertible {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]

        static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4, ping: UInt8 = 6, goaway: UInt8 = 7
        static let windowUpdate: UInt8 = 8, continuation: UInt8 = 9
        static let endStream: UInt8 = 1, endHeaders: UInt8 = 4

        /// The error code of a RST_STREAM or GOAWAY.
        var errorCode: UInt32? {
            switch type {
            case Self.rstStream where payload.count >= 4: return Self.uint32(payload, 0)
            case Self.goaway where payload.count >= 8: return Self.uint32(payload, 4)
            default: return nil
            }
        }

        static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
            bytes[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }

        var description: String { "type \(type) flags \(flags) stream \(stream) (\(payload.count) bytes)" }
    }

    /// HTTP/2 error codes the tests look for.
    enum ErrorCode {
        static let noError: UInt32 = 0, protocolError: UInt32 = 1, refusedStream: UInt32 = 7, cancel: UInt32 = 8
        static let compressionError: UInt32 = 9, enhanceYourCalm: UInt32 = 0xB
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        let negotiated = Mutex<String?>(nil)
        let closed = Atomic<Bool>(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0 += buffer.readableBytesView }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent { self.negotiated.withLock { $0 = negotiated } }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.store(true, ordering: .sequentiallyConsistent)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
    }

    private let channel: Channel
    private let collector = Collector()
    private var parsed: [Frame] = []
    /// A well-behaved client answers PINGs; false plays one that does not.
    var answersPings = true

    /// Connects, completes the TLS handshake offering `alpn`, and (for `h2`) sends the connection
    /// preface with `settings` (identifier, value).
    init(port: Int, ca: String, alpn: [String] = ["h2"], settings: [(UInt16, UInt32)] = [], preface: Bool = true) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(ca)
        tls.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: tls)
        let collector = self.collector
        channel = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        try waitUntilBlocking(timeout: .seconds(10), "the TLS handshake") { collector.negotiated.withLock { $0 } != nil || collector.closed.load(ordering: .sequentiallyConsistent) }
        if preface && alpn.first == "h2" {
            var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
            var payload: [UInt8] = []
            for (id, value) in settings { payload += [UInt8(id >> 8), UInt8(id & 0xFF)] + Self.be32(value) }
            bytes += Self.frame(type: Frame.settings, flags: 0, stream: 0, payload: payload)
            _ = send(bytes)
        }
    }

    deinit { channel.close(promise: nil) }

    /// A real TLS client's first flight (its ClientHello) offering `alpn`, captured on a raw
    /// loopback listener that never answers.
    static func clientHello(alpn: [String]) throws -> [UInt8] {
        guard let listener = listenOnLoopback() else { throw TestFailure("cannot listen") }
        defer { Glibc.close(listener.fd) }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        tls.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: tls)
        let client = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                }
            }
            .connect(host: "127.0.0.1", port: listener.port).wait()
        defer { client.close(promise: nil) }
        let fd = accept(listener.fd, nil, nil)
        guard fd >= 0 else { throw TestFailure("accept failed") }
        defer { Glibc.close(fd) }
        var hello: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // One handshake record: 5 bytes of header, then its length.
        while hello.count < 5 || hello.count < 5 + (Int(hello[3]) << 8 | Int(hello[4])) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw TestFailure("no ClientHello") }
            hello += chunk[0..<n]
        }
        return hello
    }

    var negotiatedProtocol: String? { collector.negotiated.withLock { $0 } }
    var isClosed: Bool { collector.closed.load(ordering: .sequentiallyConsistent) }

    /// Writes bytes; false once the connection is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        (try? channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).wait()) != nil
    }

    func close() { try? channel.close().wait() }

    /// Stops reading the socket (what came is kept): a client that no longer takes its bytes.
    func stopReading() { try? channel.setOption(ChannelOptions.autoRead, value: false).wait() }

    // MARK: Writing frames

    static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags] + be32(stream) + payload
    }

    /// An HPACK integer with an `prefix`-bit prefix (RFC 7541 §5.1), `first` holding the pattern bits.
    static func integer(_ value: Int, prefix: Int, first: UInt8) -> [UInt8] {
        let limit = (1 << prefix) - 1
        if value < limit { return [first | UInt8(value)] }
        var bytes = [first | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            bytes.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        return bytes + [UInt8(rest)]
    }

    static func string(_ text: String) -> [UInt8] { integer(text.utf8.count, prefix: 7, first: 0) + Array(text.utf8) }

    /// A header block of literal fields without indexing (RFC 7541 §6.2.2), names as given.
    static func block(_ fields: [(String, String)]) -> [UInt8] {
        fields.flatMap { [0x00] + string($0.0) + string($0.1) }
    }

    static func request(_ path: String, method: String = "GET", extra: [(String, String)] = []) -> [(String, String)] {
        [(":method", method), (":scheme", "https"), (":authority", "localhost"), (":path", path)] + extra
    }

    func headers(stream: UInt32, _ fields: [(String, String)], endStream: Bool = true) -> Bool {
        send(Self.frame(type: Frame.headers, flags: Frame.endHeaders | (endStream ? Frame.endStream : 0), stream: stream,
                        payload: Self.block(fields)))
    }

    func data(stream: UInt32, _ bytes: [UInt8], endStream: Bool) -> Bool {
        send(Self.frame(type: Frame.data, flags: endStream ? Frame.endStream : 0, stream: stream, payload: bytes))
    }

    func reset(stream: UInt32, code: UInt32 = ErrorCode.cancel) -> Bool {
        send(Self.frame(type: Frame.rstStream, flags: 0, stream: stream, payload: Self.be32(code)))
    }

    // MARK: Reading frames

    /// Every complete frame received so far.
    func frames() -> [Frame] {
        let bytes = collector.bytes.withLock { $0 }
        var offset = parsed.reduce(0) { $0 + 9 + $1.payload.count }
        while bytes.count - offset >= 9 {
            let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard bytes.count - offset - 9 >= length else { break }
            let stream = Frame.uint32(bytes, offset + 5) & 0x7FFF_FFFF
            let frame = Frame(type: bytes[offset + 3], flags: bytes[offset + 4], stream: stream,
                              payload: Array(bytes[(offset + 9)..<(offset + 9 + length)]))
            parsed.append(frame)
            if frame.type == Frame.settings && frame.flags & 1 == 0 {
                channel.writeAndFlush(channel.allocator.buffer(bytes: Self.frame(type: Frame.settings, flags: 1, stream: 0, payload: [])),
                                      promise: nil)
            }
            if frame.type == Frame.ping && frame.flags & 1 == 0 && answersPings {
                // A well-behaved client answers PINGs (the server's graceful close waits for the answer).
                channel.writeAndFlush(channel.allocator.buffer(bytes: Self.frame(type: Frame.ping, flags: 1, stream: 0, payload: frame.payload)),
                                      promise: nil)
            }
            offset += 9 + length
        }
        return parsed
    }

    /// Waits until `condition` holds for the frames received; false if `timeout` passes first.
    func wait(timeout: Double = 10, _ condition: ([Frame]) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        repeat {
            if condition(frames()) { return true }
            usleep(10_000)
        } while Date() < end
        return condition(frames())
    }

    func goaway() -> Frame? { frames().first { $0.type == Frame.goaway } }

    /// The decoded header blocks of `stream` (HEADERS frames with END_HEADERS; the server sends no CONTINUATION for small blocks).
    func headerBlocks(stream: UInt32) -> [HPACKHeaders] {
        let all = frames()
        var blocks: [(UInt32, HPACKHeaders)] = []
        // Decode every HEADERS frame in order: the decoder's table depends on all of them.
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        for frame in all where frame.type == Frame.headers {
            var payload = frame.payload
            var start = 0
            if frame.flags & 0x8 != 0 { start += 1; payload.removeLast(Int(frame.payload[0])) }  // padded
            if frame.flags & 0x20 != 0 { start += 5 }  // priority
            var buffer = ByteBuffer(bytes: payload[start...])
            if let headers = try? decoder.decodeHeaders(from: &buffer) { blocks.append((frame.stream, headers)) }
        }
        return blocks.filter { $0.0 == stream }.map(\.1)
    }

    func status(stream: UInt32) -> Int? {
        headerBlocks(stream: stream).compactMap { $0.first(name: ":status").flatMap(Int.init) }.last { $0 >= 200 }
    }

    func body(stream: UInt32) -> [UInt8] {
        frames().filter { $0.type == Frame.data && $0.stream == stream }.flatMap(\.payload)
    }

    func streamEnded(stream: UInt32) -> Bool {
        frames().contains { ($0.type == Frame.data || $0.type == Frame.headers) && $0.stream == stream && $0.flags & Frame.endStream != 0 }
    }

    func resetCode(stream: UInt32) -> UInt32? {
        frames().first { $0.type == Frame.rstStream && $0.stream == stream }?.errorCode
    }

    /// The server's SETTINGS (identifier → value), from its first SETTINGS frame.
    func serverSettings() -> [UInt16: UInt32] {
        guard let frame = frames().first(where: { $0.type == Frame.settings && $0.flags & 1 == 0 }) else { return [:] }
        var settings: [UInt16: UInt32] = [:]
        for offset in stride(from: 0, to: frame.payload.count - 5, by: 6) {
            settings[UInt16(frame.payload[offset]) << 8 | UInt16(frame.payload[offset + 1])] = Frame.uint32(frame.payload, offset + 2)
        }
        return settings
    }

    /// Kinds of frames received, for failure messages: "type/error code" → count.
    func summary() -> [String: Int] {
        Dictionary(frames().map { frame in
            let debug = frame.type == Frame.goaway ? " " + String(decoding: frame.payload.dropFirst(8), as: UTF8.self) : ""
            return ("\(frame.type)/\(frame.errorCode.map(String.init) ?? "-")\(debug)", 1)
        }, uniquingKeysWith: +)
    }

    func waitClosed(timeout: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end && !isClosed {
            _ = frames()  // answers PINGs meanwhile
            usleep(10_000)
        }
        return isClosed
    }
}

/// `curl` (with nghttp2) as an independent HTTP/2 client.
enum Curl {
    struct Result {
        var exitCode: Int32
        var output: String
    }

    /// Runs curl against https://localhost:port with the test CA; `-w` output is appended to stdout.
    static func run(port: Int, ca: String, _ arguments: [String], stdin: FileHandle? = nil, timeout: Double = 120) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--cacert", ca, "--resolve", "localhost:\(port):127.0.0.1", "--max-time", String(Int(timeout))] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        if let stdin { process.standardInput = stdin }
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(exitCode: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
