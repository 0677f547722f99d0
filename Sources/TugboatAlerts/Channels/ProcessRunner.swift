import Foundation
import TugboatCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a `command` channel's program with bytes on stdin and waits for its exit.
///
/// The program starts through ``ProcessSpawner`` (a process group of its own, no descriptor or
/// secret of Tugboat's); its stdin is an anonymous file holding the bytes, so nothing waits for it
/// to read them. `timeout` counts from the start: when it passes, the whole process group is
/// killed (the program and anything it started), whether or not it read its input.
enum ProcessRunner {
    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "timed out" }
    }

    /// The program's exit status (128 + the signal when one killed it).
    /// - Parameter environment: the config's `env:` for this channel, added to what every child gets.
    static func run(_ argv: [String], environment: [String: String] = [:], stdin: Data, timeout: Duration) async throws -> Int32 {
        let program = argv[0].contains("/") ? argv : ["/usr/bin/env"] + argv
        let input = try ProcessSpawner.inputFile(Array(stdin))
        let output = open("/dev/null", O_WRONLY | O_CLOEXEC)
        let pid: pid_t
        do {
            defer {
                close(input)
                if output >= 0 { close(output) }
            }
            pid = try ProcessSpawner.spawn(program, addingEnvironment: environment, stdin: input,
                                           stdout: output >= 0 ? output : nil, diesWithTugboat: false)
        }
        let exitedInTime = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await ChildExit.waitWithoutReaping(pid)
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            // Unreaped, the child's pid is still its group's id: this reaches exactly its group.
            if !first { kill(-pid, SIGKILL) }
            group.cancelAll()
            await group.waitForAll()
            return first
        }
        let status = ChildExit.reap(pid)
        if !exitedInTime {
            try Task.checkCancellation()
            throw TimedOut()
        }
        return status
    }
}
