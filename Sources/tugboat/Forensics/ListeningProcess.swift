import Foundation

/// Finds the process that listens on a local TCP port, through /proc (as `ss -ltnp` does): the
/// socket's inode from /proc/net/tcp and tcp6, then the process holding that inode among its fds.
/// This is how a profiler finds an instance by its address, static backends included.
enum ListeningProcess {
    static func pid(port: Int) -> Int32? {
        guard let inode = listeningInode(port: port) else { return nil }
        let target = "socket:[\(inode)]"
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in processes {
            guard let pid = Int32(entry) else { continue }
            let fdDirectory = "/proc/\(entry)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: fdDirectory) else { continue }
            for fd in fds where (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDirectory)/\(fd)")) == target {
                return pid
            }
        }
        return nil
    }

    /// The inode of the socket listening on `port` (state 0A), from /proc/net/tcp or tcp6.
    static func listeningInode(port: Int) -> String? {
        let hexPort = String(format: ":%04X", port)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, fields[1].hasSuffix(hexPort), fields[3] == "0A" else { continue }
                return String(fields[9])
            }
        }
        return nil
    }
}
