import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A unix socket in a temporary directory that forwards every connection to `target` (dockerd's
/// socket), to break a client's connections the way a dockerd restart does without restarting
/// the daemon others use: ``cut(_:)`` ends every open connection and, until ``resume()``, either
/// closes each new one as soon as it is accepted (counted in ``refused``) or stops listening
/// altogether (connects fail with ECONNREFUSED, as while dockerd is down). Blocking sockets, a
/// thread per direction; sends use `MSG_NOSIGNAL` so a cut never raises SIGPIPE.
final class UnixSocketForwarder: @unchecked Sendable {
    let path: String
    private let target: String
    private let directory: URL
    private let lock = NSLock()
    private var listener: Int32 = -1
    /// Both file descriptors of every forwarded connection still open.
    private var open: Set<Int32> = []
    private var refusing = false
    private var refusedCount = 0
    private var acceptedCount = 0

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(target: String) throws {
        self.target = target
        directory = URL(fileURLWithPath: "/tmp/tugboat-fwd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("docker.sock").path
        try startListening()
    }

    /// Binds `path` afresh (the file a previous listener left behind is removed) and accepts.
    private func startListening() throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(description: "bind/listen \(path): errno \(code)")
        }
        lock.withLock { listener = fd }
        Thread { [self] in acceptLoop(fd) }.start()
    }

    /// How new connections are refused while cut.
    enum Refusal: Sendable, CustomStringConvertible {
        /// Accepted and closed at once (counted in ``refused``).
        case closedAtOnce
        /// Nobody listens: connects fail with ECONNREFUSED, as while dockerd is stopped.
        case notListening

        var description: String { self == .closedAtOnce ? "connections closed at once" : "nobody listening" }
    }

    /// Connections accepted and forwarded, and connections refused while cut.
    var accepted: Int { lock.withLock { acceptedCount } }
    var refused: Int { lock.withLock { refusedCount } }

    /// Ends every open connection and refuses new ones until ``resume()``.
    func cut(_ refusal: Refusal = .closedAtOnce) {
        lock.withLock {
            refusing = true
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
            if refusal == .notListening { stopListening() }
        }
    }

    /// Forwards new connections again (listening again if it had stopped).
    func resume() throws {
        let listening = lock.withLock {
            refusing = false
            return listener >= 0
        }
        if !listening { try startListening() }
    }

    /// Stops listening, ends every connection and removes the socket's directory.
    func close() {
        cut()
        lock.withLock { stopListening() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Wakes the accept loop, which closes the listener (called with the lock held).
    private func stopListening() {
        guard listener >= 0 else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        listener = -1
    }

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            precondition(bytes.count < raw.count, "socket path too long: \(path)")
            raw.copyBytes(from: bytes)
        }
        return address
    }

    private func acceptLoop(_ listener: Int32) {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                Glibc.close(listener)
                return
            }
            let refuse = lock.withLock {
                if refusing { refusedCount += 1 } else { acceptedCount += 1 }
                return refusing
            }
            if refuse {
                Glibc.close(client)
                continue
            }
            let upstream = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.address(target)
            let connected = upstream < 0 ? -1 : withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else {
                if upstream >= 0 { Glibc.close(upstream) }
                Glibc.close(client)
                continue
            }
            lock.withLock { open.formUnion([client, upstream]) }
            // The second pump to finish closes both descriptors (under the lock, so cut() never
            // shuts down a number the kernel has handed out again).
            let remaining = PumpsLeft()
            for (from, to) in [(client, upstream), (upstream, client)] {
                Thread { [self] in
                    pump(from: from, to: to)
                    guard remaining.oneEnded() else { return }
                    lock.withLock {
                        open.subtract([client, upstream])
                        Glibc.close(client)
                        Glibc.close(upstream)
                    }
                }.start()
            }
        }
    }

    /// Copies until either side ends, then ends both (which wakes the other direction's pump).
    private func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        copying: while true {
            let count = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { break copying }
                sent += written
            }
        }
        lock.withLock {
            shutdown(from, Int32(SHUT_RDWR))
            shutdown(to, Int32(SHUT_RDWR))
        }
    }
}

/// The two directions of one forwarded connection: which one ends last.
private final class PumpsLeft: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 2

    /// One direction ended; true for the second.
    func oneEnded() -> Bool {
        lock.withLock {
            count -= 1
            return count == 0
        }
    }
}
