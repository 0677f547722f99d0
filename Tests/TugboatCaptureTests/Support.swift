import Foundation
@_exported import TestSupport
import Logging
import Synchronization
import Testing
import TugboatCore
@testable import TugboatCapture
#if canImport(Glibc)
import Glibc
#endif

let pprofFixtures = repositoryRoot.appendingPathComponent("Tests/FlameGraphTests/Fixtures/pprof")

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TempDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("capture-tests-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    /// Entries left in the per-instance directory root.
    func leftovers(_ sub: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: "\(path)/\(sub)")) ?? []
    }
}

/// `GET path` off the cooperative pool (blocking sockets must not hold its few threads).
func get(port: Int, _ path: String) async -> Int? {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: httpStatus(port: port, path, timeout: 2)) }
    }
}

/// Requests `path` in a loop on a thread of its own for `duration`; returns how many answered 200.
func load(port: Int, _ path: String, for duration: Duration) async -> Int {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            let deadline = ContinuousClock.now + duration
            var ok = 0
            while ContinuousClock.now < deadline {
                if httpStatus(port: port, path, timeout: 2) == 200 { ok += 1 }
            }
            continuation.resume(returning: ok)
        }
    }
}

/// A backend process for a test; killed (SIGKILL) by `kill()` and when the test forgets.
final class Backend: Sendable {
    let process: Process
    let port: Int
    var pid: Int32 { process.processIdentifier }

    init(_ executable: String, _ arguments: [String], port: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.port = port
    }

    var address: HostPort { HostPort(host: "127.0.0.1", port: port) }

    func waitHealthy() async throws {
        try await waitUntil("backend on port \(port) to answer /health") { await get(port: port, "/health") == 200 }
    }

    func waitExited() async throws {
        try await waitUntil("backend \(pid) to exit") { !ProcessProbe.isAlive(pid) }
    }

    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
    }
}

/// Fails the test with a clear message when a profiler is not installed (CI installs them).
func requireTool(_ name: String, install: String) throws {
    let found = ToolLocator.find(name, path: ProcessInfo.processInfo.environment["PATH"])
    try #require(found != nil, "\(name) is not on PATH: this test needs it (\(install))")
}

/// Live processes running `tool` whose command line mentions `text` (profilers left behind:
/// pass the capture directory, which every profiler's output path is in).
func profilers(_ tool: String, mentioning text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { candidate in
        guard let data = FileManager.default.contents(atPath: "/proc/\(candidate)/cmdline") else { return false }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard arguments.prefix(2).contains(where: { $0 == tool || $0.hasSuffix("/\(tool)") }) else { return false }
        return arguments.contains { $0.contains(text) } && ProcessProbe.isAlive(candidate)
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "capture-tests")
    logger.logLevel = .warning
    return logger
}()

extension CapturedProfile {
    var foldedText: String { String(decoding: folded, as: UTF8.self) }
}
