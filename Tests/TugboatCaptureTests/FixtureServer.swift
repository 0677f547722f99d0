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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard ok else {
            Glibc.close(fd)
            throw TimedOut(what: "a listening socket")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
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
