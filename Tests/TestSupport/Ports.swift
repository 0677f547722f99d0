import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A port of 127.0.0.1 the kernel called free a moment ago (bound to port 0, then released).
package func freePort() throws -> Int {
    guard let (fd, port) = listenOnLoopback(backlog: 1) else { throw TimedOut("no free port on 127.0.0.1 (errno \(errno))") }
    close(fd)
    return port
}

/// Whether a process with this pid runs (and is not a zombie).
package func processAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].drop { $0 == " " }.first != "Z"
}
