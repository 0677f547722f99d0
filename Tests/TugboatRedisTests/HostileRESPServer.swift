import Foundation
import Synchronization
import TestSupport
import TugboatRedis
#if canImport(Glibc)
import Glibc
#endif

/// A misbehaving "Redis" on 127.0.0.1: a blocking socket server whose every accepted connection is
/// handed to `serve` on a thread of its own (connection number from 1). Stopped with `stop()`.
final class HostileRESPServer: Sendable {
    let port: Int
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    private let accepted = Atomic<Int>(0)
    private let open = Mutex<[Int32]>([])

    /// Connections accepted so far.
    var connections: Int { accepted.load(ordering: .relaxed) }

    init(_ serve: @escaping @Sendable (_ connection: Connection, _ number: Int) -> Void) throws {
        guard let (listener, port) = listenOnLoopback() else { throw RedisTestError(description: "cannot listen: \(errno)") }
        self.port = port
        self.listener = listener
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else {
                    if errno == EINTR { continue }
                    return
                }
                let number = accepted.add(1, ordering: .relaxed).newValue
                open.withLock { $0.append(fd) }
                Thread.detachNewThread { serve(Connection(fd: fd), number) }
            }
        }
    }

    /// A client configuration for this server: RESP2 without credentials, so there is no handshake.
    func configuration(commandTimeout: Duration = .seconds(2)) -> RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: port, protocolVersion: .resp2)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = commandTimeout
        configuration.reconnectInitialDelay = .milliseconds(50)
        configuration.reconnectMaximumDelay = .milliseconds(200)
        return configuration
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// One accepted connection.
    struct Connection: Sendable {
        let fd: Int32

        /// Reads what the client sent (at least one byte), or nil at EOF.
        func receive() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? Array(buffer[0..<count]) : nil
        }

        /// Sends `text`; false once the client has gone.
        @discardableResult
        func send(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count <= 0 { return false }
                sent += count
            }
            return true
        }

        @discardableResult
        func send(_ text: String) -> Bool { send(Array(text.utf8)) }

        /// Reads until the client closes the connection (the test's way to see it dropped).
        func drainUntilClosed() {
            while receive() != nil {}
        }
    }
}
