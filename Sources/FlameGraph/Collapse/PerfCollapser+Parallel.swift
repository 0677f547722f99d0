import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PerfCollapser {
    /// Every online processor (``Processors/online``, at most 8). Not only the free ones: now
    /// that the parts share the distinct lines, two threads cost a fifth more CPU than one, so
    /// with one of two cores busy the whole run they are 7–17 % slower than one thread, and with
    /// both free 25–30 % faster; and whether a core is free was judged from one look at the run
    /// queue, which short-lived tasks made say "busy" for half of the runs on a quiet machine.
    public static var defaultThreads: Int { Processors.online }

    /// Inputs smaller than this are collapsed on one thread.
    static let parallelThreshold = 8 << 20

    /// Collapses bytes in memory. Large inputs are cut after blank lines (where
    /// stackcollapse-perf.pl's state is empty), the parts collapsed in parallel and merged.
    /// `populated: false`: the bytes are a file mapped without reading it in, which each
    /// thread then does for its part.
    static func collapse(
        bytes: UnsafeBufferPointer<UInt8>, options: PerfCollapseOptions, threads: Int, minimumParallelBytes: Int = parallelThreshold,
        populated: Bool = true
    ) -> PerfCollapser {
        let parts = threads > 1 && bytes.count >= minimumParallelBytes ? split(bytes, into: threads) : [0..<bytes.count]
        if parts.count == 1 {
            if !populated { ByteSource.populate(bytes) }
            var collapser = PerfCollapser(options: options)
            collapser.consume(lines: bytes)
            collapser.settle()
            return collapser
        }
        let firstEvent = Self.firstEvent(bytes)
        if let shared = collapseSharingLines(bytes, parts: parts, options: options, firstEvent: firstEvent, populated: populated) {
            return shared
        }
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
            if !populated { ByteSource.populate(UnsafeBufferPointer(rebasing: shared.bytes[parts[i]])) }
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

    /// The parallel collapse whose threads share the work of distinct stack lines (each is
    /// tidied once, not once per part that has it): the parts are read into tokens
    /// (``PerfLineScan``, in parallel); their distinct lines gathered into one list; each tidied
    /// once, the list shared out between the threads; the frame groups interned into one table;
    /// then each part's tokens replayed into its own trie (in parallel) and the parts merged.
    /// Nil when a part has too many distinct lines (the parts are then collapsed on their own).
    private static func collapseSharingLines(
        _ bytes: UnsafeBufferPointer<UInt8>, parts: [Range<Int>], options: PerfCollapseOptions, firstEvent: [UInt8]?,
        populated: Bool
    ) -> PerfCollapser? {
        let count = parts.count
        let filter = Array(options.eventFilter.utf8)
        let scans = UnsafeMutableBufferPointer<PerfLineScan?>.allocate(capacity: count)
        scans.initialize(repeating: nil)
        defer {
            _ = scans.deinitialize()
            scans.deallocate()
        }
        nonisolated(unsafe) let input = (bytes: bytes, scans: scans)
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let partFilter = i > 0 && filter.isEmpty ? (firstEvent ?? []) : filter
            if !populated { ByteSource.populate(UnsafeBufferPointer(rebasing: input.bytes[parts[i]])) }
            input.scans[i] = PerfLineScan(input.bytes, range: parts[i], eventFilter: partFilter)
        }
        if scans.contains(where: { $0!.overflowed }) { return nil }

        // The distinct lines of all parts: part 0's, then each other part's new ones.
        var table = scans[0]!.takeTable()
        var lines = scans[0]!.lines
        var remaps = [[UInt32]](repeating: [], count: count)
        for k in 1..<count {
            let scan = scans[k]!
            var remap = [UInt32](repeating: 0, count: scan.lines.count)
            scan.table.forEach { fingerprint, j in
                if let index = table.find(fingerprint) {
                    remap[Int(j)] = index
                } else {
                    let index = UInt32(truncatingIfNeeded: lines.count)
                    table.insert(fingerprint, value: index)
                    lines.append(scan.lines[Int(j)])
                    remap[Int(j)] = index
                }
            }
            remaps[k] = remap
        }

        // Each distinct line tidied once, the list shared out between the threads.
        let distinct = lines.count
        let kinds = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: max(1, distinct))
        let tidied = UnsafeMutableBufferPointer<(arena: [UInt8], ends: [Int])>.allocate(capacity: count)
        tidied.initialize(repeating: ([], []))
        defer {
            kinds.deallocate()
            _ = tidied.deinitialize()
            tidied.deallocate()
        }
        let share: @Sendable (Int) -> Range<Int> = { w in (distinct * w / count)..<(distinct * (w + 1) / count) }
        let allLines = lines
        nonisolated(unsafe) let work = (kinds: kinds, tidied: tidied)
        DispatchQueue.concurrentPerform(iterations: count) { w in
            var tidier = PerfCollapser(options: options)
            var arena: [UInt8] = []
            var ends: [Int] = []
            ends.reserveCapacity(share(w).count)
            for i in share(w) {
                let line = allLines[i]
                work.kinds[i] = tidier.tidyLine(UnsafeBufferPointer(rebasing: input.bytes[line.start..<line.end]), java: line.java, into: &arena)
                ends.append(arena.count)
            }
            work.tidied[w] = (arena, ends)
        }

        // The frame groups interned into one table, shared by the parts' tries.
        var groups = ByteTable(capacity: max(1024, distinct / 4))
        var groupOf = [UInt32](repeating: 0, count: distinct)
        for w in 0..<count {
            let (arena, ends) = tidied[w]
            arena.withUnsafeBufferPointer { arena in
                var start = 0
                for (k, i) in share(w).enumerated() {
                    let end = ends[k]
                    if kinds[i] == 0 {
                        groupOf[i] = UInt32(truncatingIfNeeded: groups.id(of: UnsafeBufferPointer(rebasing: arena[start..<end])).id)
                    } else {
                        groupOf[i] = kinds[i]
                    }
                    start = end
                }
            }
        }

        // Each part's tokens replayed on its own collapser, in parallel.
        let results = UnsafeMutableBufferPointer<PerfCollapser?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        let sharedGroups = groups
        let allGroupOf = groupOf
        let allRemaps = remaps
        nonisolated(unsafe) let output = results
        DispatchQueue.concurrentPerform(iterations: count) { i in
            var collapser = PerfCollapser(options: options, groups: sharedGroups)
            if i > 0, collapser.eventFilter.isEmpty, let firstEvent {
                collapser.eventFilter = firstEvent
                collapser.eventDefaulted = true
            }
            let scan = input.scans[i]!
            let partGroupOf = i == 0 ? allGroupOf : allRemaps[i].map { allGroupOf[Int($0)] }
            partGroupOf.withUnsafeBufferPointer { collapser.replay(input.bytes, scan: scan, groupOf: $0) }
            collapser.settle()
            collapser.partOrders = [collapser.settled.sortedIndices()]
            output[i] = collapser
        }
        // The parts' stacks stay apart: ``writeFolded(_:)`` reads them in step, sorted already.
        var first = results[0]!
        for i in 1..<count {
            let part = results[i]!
            first.unrecognizedLines += part.unrecognizedLines
            first.sampleCount += part.sampleCount
            if first.notices.isEmpty { first.notices = part.notices }
            first.laterParts.append(part.settled)
            first.partOrders += part.partOrders
        }
        return first
    }

    private mutating func merge(_ other: PerfCollapser) {
        settled.reserveCapacity(stacks: settled.count + other.settled.count, bytes: settled.byteCount + other.settled.byteCount)
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
