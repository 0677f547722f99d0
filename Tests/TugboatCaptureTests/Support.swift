import Foundation
import Logging
import Synchronization
import Testing
import TugboatCore
@testable import TugboatCapture
#if canImport(Glibc)
import Glibc
#endif

/// The `tugboat` executable built next to this test bundle.
let tugboatExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("tugboat").path

/// The repository root.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

let pprofFixtures = repositoryRoot.appendingPathComponent("Tests/FlameGraphTests/Fixtures/pprof")

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` every 50 ms until it holds; fails after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TimedOut(what: what)
}

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

/// A port that was free a moment ago on 127.0.0.1.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            _ = bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `GET path` on 127.0.0.1:port (blocking, 2 s timeouts): the status, or nil when nothing answers.
func blockingGET(port: Int, _ path: String) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = recv(fd, &buffer, buffer.count, 0)
    guard count > 12 else { return nil }
    let parts = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ", maxSplits: 2)
    return parts.count >= 2 ? Int(parts[1]) : nil
}

/// `GET path` off the cooperative pool (blocking sockets must not hold its few threads).
func get(port: Int, _ path: String) async -> Int? {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: blockingGET(port: port, path)) }
    }
}

/// Requests `path` in a loop on a thread of its own for `duration`; returns how many answered 200.
func load(port: Int, _ path: String, for duration: Duration) async -> Int {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            let deadline = ContinuousClock.now + duration
            var ok = 0
            while ContinuousClock.now < deadline {
                if blockingGET(port: port, path) == 200 { ok += 1 }
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
