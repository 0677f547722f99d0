import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a child process holds, read from `/proc` (the evidence: a child of Tugboat must
/// hold no descriptor and no secret of Tugboat's).
package enum ChildInspection {
    /// The secrets a test puts into its own environment before spawning, as Tugboat's would be.
    package static let secrets = [
        "TUGBOAT_ADMIN_TOKEN": "admin-token-must-not-leak-7f3a",
        "TWILIO_AUTH_TOKEN": "twilio-token-must-not-leak-91c2",
    ]

    /// The environment variables a child may get from Tugboat besides what the config names.
    package static func isAllowedName(_ name: String) -> Bool {
        ["PATH", "HOME", "LANG", "TZ", "TMPDIR"].contains(name) || name.hasPrefix("LC_")
    }

    /// Sets ``secrets`` in this process's environment for the duration of `body`.
    package static func withSecretsInEnvironment<T>(_ body: () async throws -> T) async rethrows -> T {
        for (name, value) in secrets { setenv(name, value, 1) }
        defer { for name in secrets.keys { unsetenv(name) } }
        return try await body()
    }

    /// Descriptor number → link target (`socket:[123]`, `pipe:[45]`, a path) of a process.
    package static func descriptors(pid: Int32) -> [Int32: String] {
        let directory = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [:] }
        var result: [Int32: String] = [:]
        for name in names {
            guard let fd = Int32(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)") else { continue }
            result[fd] = target
        }
        return result
    }

    /// A freshly exec'd child's descriptors once it has settled: right after exec the dynamic
    /// loader may hold one for a moment (`ld.so.cache`, a library it is mapping). Waits up to two
    /// seconds for only 0-2 to remain; an inherited descriptor stays, and is in what comes back.
    package static func settledDescriptors(pid: Int32) async -> [Int32: String] {
        let deadline = ContinuousClock.now + .seconds(2)
        var found = descriptors(pid: pid)
        while found.keys.contains(where: { $0 > 2 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            found = descriptors(pid: pid)
        }
        return found
    }

    /// The `socket:[inode]` targets among `targets`.
    package static func sockets(_ targets: some Sequence<String>) -> Set<String> {
        Set(targets.filter { $0.hasPrefix("socket:[") })
    }

    /// The sockets this process holds right now.
    package static var ownSockets: Set<String> { sockets(descriptors(pid: getpid()).values) }

    /// The environment of a process (`/proc/<pid>/environ`: as it was at its last exec).
    package static func environment(pid: Int32) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [:] }
        return parseEnvironment(data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
    }

    /// `NAME=value` lines (as `env` prints them, or environ's entries) as a dictionary.
    package static func parseEnvironment(_ lines: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for line in lines {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    /// The program a process runs now (argv[0] of `/proc/<pid>/cmdline`): tells whether it has exec'd.
    package static func program(pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) }
    }

    /// A listening TCP socket on 127.0.0.1 and a connection to it, all three descriptors opened
    /// without close-on-exec, as NIO opens its sockets: what a child must not inherit. Close with
    /// ``closeAll(_:)``.
    package static func openInheritableSockets() -> [Int32] {
        guard let (listener, port) = listenOnLoopback(backlog: 4) else { return [] }
        guard let client = connectLoopback(port: port) else { return [listener] }
        let accepted = accept(listener, nil, nil)
        for fd in [listener, client, accepted] where fd >= 0 {
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) & ~FD_CLOEXEC)
        }
        return [listener, client, accepted].filter { $0 >= 0 }
    }

    package static func closeAll(_ descriptors: [Int32]) {
        for fd in descriptors { close(fd) }
    }
}
