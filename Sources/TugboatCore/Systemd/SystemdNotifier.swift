import Foundation

/// systemd's notify protocol (`Type=notify`): datagrams such as `READY=1` to the unix socket named
/// by `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Taken from the environment
/// once and removed from it, so no child process inherits it. Without the variable every call
/// does nothing.
package final class SystemdNotifier: Sendable {
    private let address: [UInt8]?

    /// Reads and removes `NOTIFY_SOCKET`.
    package static func fromEnvironment() -> SystemdNotifier {
        let value = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"]
        unsetenv("NOTIFY_SOCKET")
        return SystemdNotifier(socket: value)
    }

    package init(socket: String?) {
        guard let socket, !socket.isEmpty, socket.utf8.count < 108, socket.hasPrefix("/") || socket.hasPrefix("@") else {
            address = nil
            return
        }
        var bytes = Array(socket.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        address = bytes
    }

    package var isActive: Bool { address != nil }

    /// The service is up: listeners bound.
    package func ready(status: String? = nil) { send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? [])) }
    /// A reload began (SIGHUP); `ready()` follows when it is done. MONOTONIC_USEC as systemd 253+ asks.
    package func reloading() { send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"]) }
    /// Graceful shutdown began.
    package func stopping() { send(["STOPPING=1"]) }

    package func send(_ fields: [String]) {
        guard let address else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sun.sun_path) { path in
            for (index, byte) in address.enumerated() { path[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        let message = Array(fields.joined(separator: "\n").utf8)
        _ = withUnsafePointer(to: &sun) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, message, message.count, 0, $0, length) }
        }
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
