import Foundation
import Synchronization

/// A helper process for live tests: its output collected, its stdin held open (a helper that reads
/// stdin to its end stops when the test process goes), killed by its own PID when stopped.
final class TestChild: @unchecked Sendable {
    let process = Process()
    private let output = OutputBuffer()
    private let stdout = Pipe()
    private let stdin = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = stdout
        process.standardInput = stdin
        let output = self.output
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var text: String { output.text.withLock { $0 } }

    /// The port from the helper's `listening on 127.0.0.1:PORT` line, waited for at most `timeout`.
    func listeningPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let line = try await waitFor("a 'listening on' line", timeout: timeout) {
            self.text.split(separator: "\n").first { $0.contains("listening on 127.0.0.1:") }.map(String.init)
        }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw LiveTestError("no port in '\(line)'")
        }
        return port
    }

    func stop() {
        stdout.fileHandleForReading.readabilityHandler = nil
        try? stdin.fileHandleForWriting.close()
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        var status: Int32 = 0
        while Date() < deadline, waitpid(process.processIdentifier, &status, WNOHANG) == 0 { usleep(5_000) }
    }

    deinit { stop() }
}

/// What a child process printed so far, filled from the pipe's reading thread.
final class OutputBuffer: Sendable {
    let text = Mutex("")
}

struct LiveTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `check` until it returns a value, at most `timeout`: waits for a condition, never a fixed time.
func waitFor<T>(_ what: String, timeout: Duration = .seconds(10), _ check: () throws -> T?) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if let value = try check() { return value }
        guard clock.now < deadline else { throw LiveTestError("timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
