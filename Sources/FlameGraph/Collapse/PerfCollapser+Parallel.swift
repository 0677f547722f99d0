import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PerfCollapser {
    /// The processors free right now (``Processors/free``): a part that waits for a busy core
    /// would make the whole collapse wait.
    public static var defaultThreads: Int { Processors.free }

    /// Inputs smaller than this are collapsed on one thread.
    static let parallelThreshold = 8 << 20

    /// Collapses bytes in memory. Large inputs are cut after blank lines (where
    /// stackcollapse-perf.pl's state is empty), the parts collapsed in parallel and merged.
    static func collapse(
        bytes: UnsafeBufferPointer<UInt8>, options: PerfCollapseOptions, threads: Int, minimumParallelBytes: Int = parallelThreshold
    ) -> PerfCollapser {
        let parts = threads > 1 && bytes.count >= minimumParallelBytes ? split(bytes, into: threads) : [0..<bytes.count]
        if parts.count == 1 {
            var collapser = PerfCollapser(options: options)
            collapser.consume(lines: bytes)
            collapser.settle()
            return collapser
        }
        let firstEvent = Self.firstEvent(bytes)
        let results = UnsafeMutableBufferPointer<PerfCollapser?>.allocate(capacity: parts.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let shared = (bytes: bytes, results: results)
        DispatchQueue.concurrentPerform(iterations: parts.count) { i in
            var collapser = PerfCollapser(options: options)
            if i > 0, collapser.eventFilter.isEmpty, let firstEvent {
                collapser.eventFilter = firstEvent
                collapser.eventDefaulted = true
            }
            collapser.consume(lines: UnsafeBufferPointer(rebasing: shared.bytes[parts[i]]))
            collapser.settle()
            shared.results[i] = collapser
        }
        var merged = results[0]!
        for i in 1..<parts.count {
            merged.merge(results[i]!)
        }
        return merged
    }

    private mutating func merge(_ other: PerfCollapser) {
        settled.merge(other.settled)
        unrecognizedLines += other.unrecognizedLines
        sampleCount += other.sampleCount
        if notices.isEmpty { notices = other.notices }
    }

    /// Cuts `bytes` into about `count` parts, each ending just after a blank line.
    private static func split(_ bytes: UnsafeBufferPointer<UInt8>, into count: Int) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = 0
        for k in 1..<count {
            var i = max(start, bytes.count * k / count)
            while i + 1 < bytes.count, !(bytes[i] == ASCII.newline && bytes[i + 1] == ASCII.newline) { i += 1 }
            guard i + 1 < bytes.count else { break }
            parts.append(start..<(i + 2))
            start = i + 2
        }
        parts.append(start..<bytes.count)
        return parts
    }

    /// The event of the first sample header, which a sequential run would filter on.
    private static func firstEvent(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var found: [UInt8]?
        struct Done: Error {}
        _ = try? ByteSource.splitLines(bytes, final: true) { line in
            guard let first = line.first, first != 0x23, !ASCII.isSpace(first),
                  let header = PerfLineParser.header(line), let event = header.event else { return }
            found = Array(line[event])
            throw Done()
        }
        return found
    }
}
