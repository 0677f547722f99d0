import Foundation
@_exported import TestSupport
import Testing
@testable import TugboatScaling
#if canImport(Glibc)
import Glibc
#endif

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
