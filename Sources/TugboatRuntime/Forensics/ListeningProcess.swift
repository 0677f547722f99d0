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
            guard let text = readWhole(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, fields[1].hasSuffix(hexPort), fields[3] == "0A" else { continue }
                return String(fields[9])
            }
        }
        return nil
    }

    /// The whole of a /proc file: `String(contentsOfFile:)` trusts the reported size and returns
    /// only the first page of /proc/net/tcp, where a busy machine lists thousands of sockets.
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
