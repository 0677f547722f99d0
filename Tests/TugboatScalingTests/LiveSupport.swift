import Foundation
@_exported import TestSupport
import Testing
@testable import TugboatScaling
#if canImport(Glibc)
import Glibc
#endif

/// The `tugboat` executable built next to this test bundle.
let tugboatExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("tugboat").path

/// The repository root (for examples/).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

struct ConditionTimedOut: Error, CustomStringConvertible {
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
    throw ConditionTimedOut(what: what)
}


/// Whether a process with this pid runs (and is not a zombie).
func processAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
}

/// A random block of `count` ports below the kernel's ephemeral range (32768-) for a provider's
/// range, all free right now (a provider skips busy ports anyway; tests that count need them free).
func portRange(count: Int = 40) -> ClosedRange<Int> {
    while true {
        let start = Int.random(in: 20000...(32000 - count))
        let range = start...(start + count - 1)
        if range.allSatisfy({ PortProbe.isFree(port: $0) }) { return range }
    }
}

/// The next element of `iterator`, or nil after `timeout`.
func next<Element: Sendable>(_ stream: AsyncStream<Element>, timeout: Duration = .seconds(20)) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
