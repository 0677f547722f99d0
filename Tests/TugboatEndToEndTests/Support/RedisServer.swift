import Foundation

/// A real `redis-server` on a free port of 127.0.0.1 (no persistence), stopped with the test.
final class RedisServer: @unchecked Sendable {
    let port: Int
    private(set) var child: ChildProcess
    private let directory: String

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
            throw TestFailure("needs /usr/bin/redis-server (apt-get install redis-server)")
        }
        directory = NSTemporaryDirectory() + "tugboat-redis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A port the kernel calls free (a random one in 30000–35000 overlapped the ephemeral range
        // and now and then met an outgoing connection); another try if it is taken in between.
        var attempt = 0
        while true {
            let candidate = try freePort()
            do {
                child = try Self.start(port: candidate, directory: directory)
                port = candidate
                break
            } catch {
                attempt += 1
                if attempt == 3 { throw error }
            }
        }
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    private static func start(port: Int, directory: String) throws -> ChildProcess {
        let child = try ChildProcess(executable: "/usr/bin/redis-server", arguments: [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
        ])
        _ = try child.waitForLine(timeout: 10) { $0.contains("Ready to accept connections") }
        return child
    }

    func kill() {
        child.stop()
    }

    /// Starts it again on the same port (empty: it keeps nothing).
    func restart() throws {
        child = try Self.start(port: port, directory: directory)
    }

    deinit {
        child.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
