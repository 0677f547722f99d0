import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The one child-process harness of the tests: a helper or the program under test, its stdout and
/// stderr collected line by line, stopped (SIGKILL, then reaped) when the test ends. With
/// `holdingStdin`, its stdin stays open while it runs: a helper that reads stdin to its end stops
/// by itself when the test process goes.
package final class ChildProcess: @unchecked Sendable {
    package let process = Process()
    private let output = LineBuffer()
    private let pipe = Pipe()
    private let stdin: Pipe?

    package init(executable: String, arguments: [String], environment: [String: String] = [:], holdingStdin: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardError = pipe
        process.standardOutput = pipe
        stdin = holdingStdin ? Pipe() : nil
        if let stdin { process.standardInput = stdin }
        output.collect(from: pipe)
        try process.run()
    }

    package var pid: Int32 { process.processIdentifier }
    package var lines: [String] { output.state.withLock { $0.lines } }
    /// Everything it printed so far, the line under way included.
    package var text: String { output.state.withLock { ($0.lines + [$0.partial]).joined(separator: "\n") } }

    /// The port from the helper's `listening on 127.0.0.1:PORT` line, waited for at most `timeout`.
    package func listeningPort(timeout: Duration = .seconds(30)) async throws -> Int {
        var line = ""
        try await waitUntil("a 'listening on 127.0.0.1:' line", timeout: timeout) {
            guard let found = self.text.split(separator: "\n").first(where: { $0.contains("listening on 127.0.0.1:") }) else { return false }
            line = String(found)
            return true
        }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw TestFailure("no port in '\(line)'")
        }
        return port
    }

    /// Waits until a line matching `predicate` appears; returns it.
    @discardableResult
    package func waitForLine(timeout: Double = 30, _ predicate: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let line = lines.first(where: predicate) { return line }
            if !process.isRunning, let line = lines.first(where: predicate) { return line }
            if !process.isRunning { break }
            usleep(20_000)
        }
        throw TestFailure("no matching output line within \(timeout)s; got:\n" + lines.suffix(30).joined(separator: "\n"))
    }

    package func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit; returns the exit status, or nil on timeout.
    package func waitForExit(timeout: Double = 30) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            var status: Int32?
            if !process.isRunning { status = process.terminationStatus } else { status = reapIfZombie() }
            if let status {
                waitForOutputEnd()
                return status
            }
            usleep(20_000)
        }
        return nil
    }

    /// After the exit, what the child wrote last may still be in the pipe: read to its end (or
    /// for a moment, if a grandchild still holds it) so `lines` holds everything.
    private func waitForOutputEnd() {
        let end = Date().addingTimeInterval(2)
        while !output.isEnded && Date() < end { usleep(5_000) }
    }

    /// Foundation's Process does not always notice a child's exit here (seen with children killed
    /// by SIGKILL while many others run): a zombie it has not reaped is reaped here, with its status.
    private func reapIfZombie() -> Int32? {
        let pid = process.processIdentifier
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")"), stat[stat.index(after: end)...].hasPrefix(" Z") else { return nil }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : signal
    }

    /// User plus system CPU time used so far, in seconds, from /proc.
    package var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory in KiB, from /proc.
    package var residentKiB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    package func stop() {
        try? stdin?.fileHandleForWriting.close()
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(timeout: 10)
        }
        pipe.fileHandleForReading.readabilityHandler = nil
    }

    deinit { stop() }
}

package struct TestFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Output lines of a child process, filled from the pipe's reading thread.
package final class LineBuffer: Sendable {
    package let state = Mutex<(lines: [String], partial: String)>(([], ""))
    /// The pipe reached its end (every writer closed it): nothing more will come.
    private let ended = Atomic<Bool>(false)

    package var isEnded: Bool { ended.load(ordering: .acquiring) }

    /// Fills this buffer with what `pipe` delivers, line by line, until it closes.
    package init() {}

    package func collect(from pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                ended.store(true, ordering: .releasing)
                return
            }
            state.withLock { output in
                var lines = (output.partial + String(decoding: data, as: UTF8.self)).components(separatedBy: "\n")
                output.partial = lines.removeLast()
                output.lines.append(contentsOf: lines)
            }
        }
    }
}
