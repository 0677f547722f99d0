import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A raw-socket HTTP/1 backend on 127.0.0.1:0 for the front-door tests: it logs every byte it
/// receives, per connection, and answers each request as a script says, byte for byte (so a test can
/// send malformed responses the demo-app never would).
///
/// Parsing is deliberately minimal, just enough to find request boundaries: the head ends at the
/// first empty line (CRLF or bare LF); the body is then chunked when the last `Transfer-Encoding`
/// token is `chunked` (any case), else `Content-Length` long (the first one), else empty. The script
/// is asked once per request, as soon as its head has arrived.
///
/// Threads: one accepting, one per connection (blocking sockets with a 50 ms receive timeout, so
/// each notices `stop()` and released gates). `stop()` (or deinit) shuts every socket down and
/// waits for the threads. At most `maxConnections` connections are served; more are closed at once.
final class RawBackend: @unchecked Sendable {
    /// One header line as received.
    struct Header: Sendable, CustomStringConvertible {
        let name: String
        let value: String
        var description: String { "\(name): \(value)" }
    }

    /// One request as it reached the backend.
    struct Request: Sendable, CustomStringConvertible {
        /// Which connection (0-based, in accept order) and which request overall (0-based).
        let connection: Int
        fileprivate(set) var index: Int
        /// The head bytes as received, up to and including the empty line.
        let head: [UInt8]
        let method: String
        let target: String
        let version: String
        let headers: [Header]
        /// The body as framed on the wire (chunk sizes included), and decoded; filled when complete.
        var body: [UInt8] = []
        var decodedBody: [UInt8] = []
        var isChunked = false
        var isComplete = false

        var headText: String { String(decoding: head, as: UTF8.self) }
        /// The head's lines without their line ends (the request line first).
        var headLines: [String] { RawBackend.lines(head) }
        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }
        func header(_ name: String) -> String? { values(name).first }
        var description: String { "#\(index) on connection \(connection): \(method) \(target) \(version)" }
    }

    /// Opened by the test to let `.hold` replies go.
    final class Gate: Sendable {
        private let released = Atomic<Bool>(false)
        init() {}
        func release() { released.store(true, ordering: .sequentiallyConsistent) }
        var isReleased: Bool { released.load(ordering: .sequentiallyConsistent) }
    }

    /// What to do with one request.
    indirect enum Reply: Sendable {
        /// Write these bytes once the whole request (head and body) has arrived; then read the next request.
        case respond([UInt8])
        /// Write these bytes as soon as the head has arrived (the body is still read and logged).
        case respondEarly([UInt8])
        /// Write these bytes once the request has arrived, then close the connection.
        case respondAndClose([UInt8])
        /// Write these bytes once the request has arrived; from then on the connection is a raw
        /// tunnel: everything is logged, nothing parsed, and echoed back when `echo`.
        case upgrade([UInt8], echo: Bool)
        /// Wait (reading and logging meanwhile) until the gate is released, then do `then`.
        case hold(Gate, then: Reply)
        /// Never answer; keep reading and logging the connection without parsing it further.
        case never
        /// Close the connection at once, without answering.
        case close

        /// `200 OK` with a Content-Length body.
        static func ok(_ body: String, headers: String = "") -> Reply {
            .respond(RawBackend.response(status: "200 OK", headers: headers, body: body))
        }
    }

    typealias Script = @Sendable (Request) -> Reply

    /// The default script: `GET /health` gets 200 "ok"; anything else 200 "you asked for <target>".
    static let echoTarget: Script = { request in
        request.target == "/health" ? .ok("ok") : .ok("you asked for \(request.target)")
    }

    /// A response with a Content-Length body.
    static func response(status: String, headers: String = "", body: String) -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Length: \(body.utf8.count)\r\n\(headers)\r\n\(body)".utf8)
    }

    let port: Int
    var address: String { "127.0.0.1:\(port)" }
    private let core: Core

    /// `logLimit`: bytes kept per connection (the count goes on beyond it, the bytes do not).
    init(maxConnections: Int = 256, logLimit: Int = 32 << 20, script: @escaping Script = RawBackend.echoTarget) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 1024) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw TestFailure("cannot listen on 127.0.0.1:0: errno \(errno)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        core = Core(listener: fd, maxConnections: maxConnections, logLimit: logLimit, script: script)
        core.start()
    }

    deinit { core.stop() }

    /// Closes the listener and every connection, and waits for the threads.
    func stop() { core.stop() }

    // MARK: What it saw

    /// Every byte received on that connection (up to the log limit).
    func received(connection: Int) -> [UInt8] { core.state.withLock { $0.connections[connection].bytes } }
    /// Every byte received, connection after connection.
    var allReceived: [UInt8] { core.state.withLock { $0.connections.flatMap(\.bytes) } }
    /// How many bytes arrived in all, on every connection (counted beyond the log limit too).
    var totalBytesReceived: Int { core.state.withLock { $0.connections.reduce(0) { $0 + $1.total } } }
    func totalBytes(connection: Int) -> Int { core.state.withLock { $0.connections[connection].total } }
    /// Connections accepted so far (health-check connects included).
    var connectionCount: Int { core.state.withLock { $0.connections.count } }
    /// True when the peer (the proxy) closed or reset that connection.
    func isClosedByPeer(connection: Int) -> Bool { core.state.withLock { $0.connections[connection].closedByPeer } }
    /// The connections the peer closed or reset.
    var connectionsClosedByPeer: Set<Int> {
        core.state.withLock { state in Set(state.connections.indices.filter { state.connections[$0].closedByPeer }) }
    }
    /// The connections that carried at least one byte.
    var connectionsWithTraffic: [Int] {
        core.state.withLock { state in state.connections.indices.filter { state.connections[$0].total > 0 } }
    }
    /// Every request whose head arrived, in order of arrival.
    var requests: [Request] { core.state.withLock { $0.requests } }

    // MARK: -

    struct ConnectionRecord {
        var bytes: [UInt8] = []
        var total = 0
        var closedByPeer = false
        var fd: Int32 = -1
    }

    struct State {
        var connections: [ConnectionRecord] = []
        var requests: [Request] = []
        var stopped = false
    }

    /// Shared by the threads; the outer object owns it, so deinit runs while threads still do.
    final class Core: Sendable {
        let state = Mutex(State())
        let listener: Int32
        let maxConnections: Int
        let logLimit: Int
        let script: Script
        let threads = DispatchGroup()

        init(listener: Int32, maxConnections: Int, logLimit: Int, script: @escaping Script) {
            self.listener = listener
            self.maxConnections = maxConnections
            self.logLimit = logLimit
            self.script = script
        }

        var stopped: Bool { state.withLock { $0.stopped } }

        func start() {
            setReceiveTimeout(listener, 0.05)
            threads.enter()
            Thread.detachNewThread { [self] in
                acceptLoop()
                threads.leave()
            }
        }

        func stop() {
            let fds: [Int32]? = state.withLock { state in
                if state.stopped { return nil }
                state.stopped = true
                return state.connections.map(\.fd).filter { $0 >= 0 }
            }
            guard let fds else { return }
            for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
            _ = threads.wait(timeout: .now() + 10)
        }

        private func acceptLoop() {
            defer { close(listener) }
            while !stopped {
                let fd = accept(listener, nil, nil)
                if fd < 0 { continue }  // the 50 ms timeout, or an aborted connect
                let id: Int? = state.withLock { state in
                    guard !state.stopped, state.connections.count < maxConnections else { return nil }
                    state.connections.append(ConnectionRecord(fd: fd))
                    return state.connections.count - 1
                }
                guard let id else {
                    close(fd)
                    continue
                }
                setReceiveTimeout(fd, 0.05)
                var sendLimit = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendLimit, socklen_t(MemoryLayout<timeval>.size))
                threads.enter()
                Thread.detachNewThread { [self] in
                    serve(fd: fd, connection: id)
                    threads.leave()
                }
            }
        }

        private enum Phase {
            case head
            case body(Int, Reply, answered: Bool)  // request index, reply
            case answer(Int, Reply)
            case tunnel(echo: Bool)
            case ignore
            case closed
        }

        /// Reads, logs, parses and answers one connection until either side closes it.
        private func serve(fd: Int32, connection: Int) {
            var pending: [UInt8] = []  // received, not yet consumed by the parser
            var phase = Phase.head
            var chunk = [UInt8](repeating: 0, count: 65536)
            defer {
                state.withLock { $0.connections[connection].fd = -1 }
                close(fd)
            }
            while !stopped {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    let bytes = chunk[0..<n]
                    state.withLock { state in
                        state.connections[connection].total += n
                        let room = logLimit - state.connections[connection].bytes.count
                        if room > 0 { state.connections[connection].bytes.append(contentsOf: bytes.prefix(room)) }
                    }
                    switch phase {
                    case .tunnel(let echo): if echo { sendAll(fd, Array(bytes)) }
                    case .ignore, .closed: break
                    default: if pending.count < logLimit { pending.append(contentsOf: bytes) }
                    }
                } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    state.withLock { $0.connections[connection].closedByPeer = true }
                    return
                }
                advance(&phase, &pending, fd: fd, connection: connection)
                if case .closed = phase { return }
            }
        }

        /// Runs the parser and the replies as far as the bytes received allow.
        private func advance(_ phase: inout Phase, _ pending: inout [UInt8], fd: Int32, connection: Int) {
            while true {
                switch phase {
                case .head:
                    guard let (request, headLength) = parseHead(pending, connection: connection) else { return }
                    pending.removeFirst(headLength)
                    let index = state.withLock { state in
                        var request = request
                        request.index = state.requests.count
                        state.requests.append(request)
                        return request.index
                    }
                    let reply = script(requests(index))
                    var answered = false
                    if case .respondEarly(let bytes) = reply {
                        sendAll(fd, bytes)
                        answered = true
                    }
                    phase = .body(index, reply, answered: answered)
                case .body(let index, let reply, let answered):
                    let request = requests(index)
                    let framing = Self.framing(of: request)
                    guard let (wire, decoded, chunked) = Self.body(in: pending, framing: framing) else { return }
                    pending.removeFirst(wire.count)
                    state.withLock { state in
                        state.requests[index].body = wire
                        state.requests[index].decodedBody = decoded
                        state.requests[index].isChunked = chunked
                        state.requests[index].isComplete = true
                    }
                    phase = answered ? .head : .answer(index, reply)
                case .answer(let index, let reply):
                    switch reply {
                    case .respond(let bytes), .respondEarly(let bytes):
                        sendAll(fd, bytes)
                        phase = .head
                    case .respondAndClose(let bytes):
                        sendAll(fd, bytes)
                        phase = .closed
                        return
                    case .upgrade(let bytes, let echo):
                        sendAll(fd, bytes)
                        if echo && !pending.isEmpty { sendAll(fd, pending) }
                        pending.removeAll()
                        phase = .tunnel(echo: echo)
                        return
                    case .hold(let gate, let then):
                        guard gate.isReleased else { return }
                        phase = .answer(index, then)
                    case .never:
                        pending.removeAll()
                        phase = .ignore
                        return
                    case .close:
                        phase = .closed
                        return
                    }
                case .tunnel, .ignore, .closed:
                    pending.removeAll()
                    return
                }
            }
        }

        private func requests(_ index: Int) -> Request { state.withLock { $0.requests[index] } }

        private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                offset += n
            }
        }

        // MARK: Parsing

        /// The head at the start of `bytes` and its length, once its empty line has arrived.
        private func parseHead(_ bytes: [UInt8], connection: Int) -> (Request, Int)? {
            var end: Int?
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { end = index + 2; break }
                    if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"), bytes[index + 2] == UInt8(ascii: "\n") {
                        end = index + 3
                        break
                    }
                }
                index += 1
            }
            guard let end else { return nil }
            let head = Array(bytes[0..<end])
            let lines = RawBackend.lines(head)
            let parts = (lines.first ?? "").split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let headers = lines.dropFirst().compactMap { line -> Header? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return Header(name: String(line[..<colon]),
                              value: line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t")))
            }
            let request = Request(connection: connection, index: -1, head: head,
                                  method: parts.count > 0 ? parts[0] : "", target: parts.count > 1 ? parts[1] : "",
                                  version: parts.count > 2 ? parts[2] : "", headers: headers)
            return (request, end)
        }

        enum Framing { case none, length(Int), chunked }

        static func framing(of request: Request) -> Framing {
            let codings = request.values("transfer-encoding").flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if codings.last == "chunked" { return .chunked }
            if let length = request.header("content-length").flatMap({ Int($0) }) { return .length(length) }
            return .none
        }

        /// The complete body at the start of `bytes` (wire bytes, decoded bytes, chunked), or nil
        /// while it is incomplete.
        static func body(in bytes: [UInt8], framing: Framing) -> ([UInt8], [UInt8], Bool)? {
            switch framing {
            case .none: return ([], [], false)
            case .length(let length):
                guard bytes.count >= length else { return nil }
                return (Array(bytes[0..<length]), Array(bytes[0..<length]), false)
            case .chunked:
                guard let (decoded, used) = RawBackend.decodeChunked(bytes) else { return nil }
                return (Array(bytes[0..<used]), decoded, true)
            }
        }
    }

    /// The non-empty lines of a head, split at LF with a CR before it dropped. On bytes: a Swift
    /// String holds CRLF as one Character, so splitting the String at "\n" would find nothing.
    static func lines(_ head: [UInt8]) -> [String] {
        head.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0 }
            .filter { !$0.isEmpty }
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Decodes a chunked body at the start of `bytes`: the data and how many bytes it took (trailers
    /// included), or nil while incomplete or malformed.
    static func decodeChunked(_ bytes: [UInt8]) -> ([UInt8], Int)? {
        var decoded: [UInt8] = []
        var offset = 0
        func line() -> String? {
            guard let newline = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            var text = String(decoding: bytes[offset..<newline], as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            offset = newline + 1
            return text
        }
        while true {
            guard let sizeLine = line() else { return nil }
            guard let size = Int(sizeLine.split(separator: ";").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "",
                                 radix: 16), size >= 0 else { return nil }
            if size == 0 {
                while true {
                    guard let trailer = line() else { return nil }
                    if trailer.isEmpty { return (decoded, offset) }
                }
            }
            guard bytes.count >= offset + size else { return nil }
            decoded.append(contentsOf: bytes[offset..<(offset + size)])
            offset += size
            guard let rest = line(), rest.isEmpty else { return nil }
        }
    }
}

/// SO_RCVTIMEO on a socket.
func setReceiveTimeout(_ fd: Int32, _ seconds: Double) {
    var limit = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
}
