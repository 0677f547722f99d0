import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PerfCollapser {
    /// The processors free right now (online processors less the other runnable tasks, from
    /// Linux's /proc/loadavg), at least 1 and at most 8: a part that waits for a busy core would
    /// make the whole collapse wait.
    public static var defaultThreads: Int {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return max(1, min(8, cores - otherRunnableTasks()))
    }

    /// Runnable tasks other than this one ("4/321" in /proc/loadavg counts this one too); 0 when unknown.
    private static func otherRunnableTasks() -> Int {
        guard let file = fopen("/proc/loadavg", "r") else { return 0 }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 128)
        guard fgets(&buffer, 128, file) != nil else { return 0 }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: " ")
        guard fields.count >= 4, let running = fields[3].split(separator: "/").first, let n = Int(running) else { return 0 }
        return max(0, n - 1)
    }

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
            shared.results[i] = collapser
        }
        var merged = results[0]!
        for i in 1..<parts.count {
            merged.merge(results[i]!)
        }
        return merged
    }

    private mutating func merge(_ other: PerfCollapser) {
        stacks.merge(other.stacks)
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
