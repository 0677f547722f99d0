import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A one-route HTTP server on 127.0.0.1 (a thread, blocking sockets): answers every request with
/// `body` and remembers the request targets.
final class FixtureServer: Sendable {
    let port: Int
    private let listener: Int32
    private let targets = Mutex<[String]>([])
    private let body: [UInt8]
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    init(body: [UInt8]) throws {
        self.body = body
        guard let (fd, port) = listenOnLoopback() else { throw TimedOut("no listening socket on 127.0.0.1") }
        listener = fd
        self.port = port
        Thread.detachNewThread { [self] in serve() }
    }

    /// The request targets seen so far (`/debug/pprof/profile?seconds=3`).
    var requests: [String] { targets.withLock { $0 } }

    private func serve() {
        defer {
            Glibc.close(listener)
            finished.signal()
        }
        while !stopped.withLock({ $0 }) {
            // Poll, so that stop() is seen: closing a socket another thread is accepting on
            // would leave it listening (connections would hang instead of being refused).
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            var head: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !head.ends(with: [13, 10, 13, 10]) {
                let n = recv(client, &buffer, buffer.count, 0)
                if n <= 0 { break }
                head.append(contentsOf: buffer[0..<n])
            }
            let line = String(decoding: head, as: UTF8.self).split(separator: "\r\n").first ?? ""
            let parts = line.split(separator: " ")
            if parts.count >= 2 { targets.withLock { $0.append(String(parts[1])) } }
            let response = Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            var sent = 0
            while sent < response.count {
                let n = response[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                sent += n
            }
            Glibc.close(client)
        }
    }

    /// Stops listening (new connections are refused once this returns).
    func stop() {
        guard !stopped.withLock({ state in defer { state = true }; return state }) else { return }
        finished.wait()
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
