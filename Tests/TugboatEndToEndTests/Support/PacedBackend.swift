import Foundation
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A backend that answers every GET with a Content-Length body of a known pattern, written in
/// pieces with a pause between them (a backend that produces its body slowly), optionally cut
/// short or followed by closing the connection. Connections are kept alive otherwise, and every
/// request is recorded with the connection it came on.
final class PacedBackend: @unchecked Sendable {
    struct Plan: Sendable {
        var bodyLength: Int
        var piece = 64 * 1024
        var pause: Duration = .milliseconds(2)
        /// Close the connection after this many body bytes (a backend that dies mid-body).
        var cutAfter: Int?
        /// Close the connection after the whole body (announced with `Connection: close`).
        var closeAfterBody = false
    }

    let port: Int
    var address: String { "127.0.0.1:\(port)" }
    private let listener: Int32
    private let plan: Plan
    private let state = Mutex<(requests: [(connection: Int, target: String)], connections: Int, open: Int, stopped: Bool)>(([], 0, 0, false))

    /// The byte at `offset` of every body.
    static func byte(at offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: offset % 251) }

    static func isPattern(_ bytes: ArraySlice<UInt8>, from offset: Int = 0) -> Bool {
        var position = offset
        for byte in bytes {
            if byte != Self.byte(at: position) { return false }
            position += 1
        }
        return true
    }

    init(_ plan: Plan) throws {
        guard let (fd, port) = listenOnLoopback(backlog: 64) else { throw TestFailure("cannot listen on 127.0.0.1") }
        setReceiveTimeout(fd, 0.05)
        listener = fd
        self.port = port
        self.plan = plan
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    func stop() {
        state.withLock { $0.stopped = true }
    }

    /// Requests received: the connection (numbered from 0 in accept order) and the target.
    var requests: [(connection: Int, target: String)] { state.withLock { $0.requests } }

    /// Connections not yet closed (by either side).
    var openConnections: Int { state.withLock { $0.open } }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        defer { close(listener) }
        while !stopped {
            let fd = accept(listener, nil, nil)
            if fd < 0 { continue }
            let id = state.withLock { state in
                state.connections += 1
                state.open += 1
                return state.connections - 1
            }
            Thread.detachNewThread { [self] in
                serve(fd, connection: id)
                close(fd)
                state.withLock { $0.open -= 1 }
            }
        }
    }

    private func serve(_ fd: Int32, connection: Int) {
        setReceiveTimeout(fd, 0.1)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while !stopped {
            if let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<end.upperBound)
                let target = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                state.withLock { $0.requests.append((connection, target)) }
                if target == "/health" {
                    guard FrontDoor.sendAll(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)) else { return }
                    continue
                }
                guard respond(fd) else { return }
                continue
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                pending += chunk[0..<n]
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return
            }
        }
    }

    /// Writes one response; false when the connection is to end.
    private func respond(_ fd: Int32) -> Bool {
        let close = plan.closeAfterBody ? "Connection: close\r\n" : ""
        guard FrontDoor.sendAll(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(plan.bodyLength)\r\n\(close)\r\n".utf8)) else { return false }
        let end = min(plan.bodyLength, plan.cutAfter ?? plan.bodyLength)
        var offset = 0
        while offset < end {
            let count = min(plan.piece, end - offset)
            guard FrontDoor.sendAll(fd, (offset..<(offset + count)).map(Self.byte(at:))) else { return false }
            offset += count
            Thread.sleep(forTimeInterval: Double(plan.pause.components.attoseconds) / 1e18 + Double(plan.pause.components.seconds))
        }
        return plan.cutAfter == nil && !plan.closeAfterBody
    }
}
