#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Collapses `perf script` output into folded stacks, with the same output, byte for byte, as
/// stackcollapse-perf.pl on the same input and options.
///
/// Feed it lines with ``consume(line:)`` (streaming: it keeps only the current sample), then
/// take ``stacks``; or call ``collapse(_:options:threads:)``.
public struct PerfCollapser: Sendable {
    /// The options in effect.
    public let options: PerfCollapseOptions
    /// The stacks collapsed so far.
    public var stacks: FoldedStacks {
        guard !trie.isEmpty || !laterParts.isEmpty else { return settled }
        var all = settled
        for part in laterParts { all.merge(part) }
        var pending = trie
        pending.settle(into: &all)
        return all
    }
    /// Lines that were neither a sample header, a frame nor blank.
    public internal(set) var unrecognizedLines = 0
    /// Samples collapsed (each stack's count is the sum of its samples' periods: with perf's
    /// cpu-clock, nanoseconds of CPU, not samples).
    public internal(set) var sampleCount = 0
    /// Notices stackcollapse-perf.pl would print on stderr (event filtering).
    public internal(set) var notices: [String] = []

    var eventFilter: [UInt8]
    var eventDefaulted = false
    private var eventWarned = false
    /// Stacks written out as bytes (``settle()``), and those still held as paths of the trie.
    var settled = FoldedStacks()
    /// A parallel collapse's other parts' stacks, merged into ``stacks`` only when asked for
    /// (``writeFolded(_:)`` reads them in step), and each part's ``FoldedStacks/sortedIndices(asLines:)``
    /// (``settled``'s first), when sorted on the parts' threads.
    var laterParts: [FoldedStacks] = []
    var partOrders: [[Int]] = []
    private var trie = StackTrie()
    /// The current sample's process name, as the root of its stack in the trie.
    private var root: UInt32?
    private var period: Double = 1
    private var isJava = false
    /// Frames of the current sample: the trie's frame group of each stack line, leaf first.
    private var groups: [UInt32] = []
    /// The last sample's root, groups (root first) and the node each led to.
    private var lastRoot = StackTrie.none
    private var lastGroups: [UInt32] = []
    private var lastNodes: [UInt32] = []
    private var scratch: [UInt8] = []
    private var nameBuffer: [UInt8] = []
    private var groupBuffer: [UInt8] = []
    /// Stack lines seen before (per Java/non-Java process name) and the frame group each became.
    private var lineCache = FingerprintTable(capacity: 4096)
    /// Where the batched slot loads go (kept so that the compiler keeps the loads).
    private var touchedSlots: UInt64 = 0
    static let noFrames = UInt32.max - 1
    /// A line that is neither a header nor a frame (``replay(_:scan:groupOf:)``).
    static let unrecognizedLine = UInt32.max
    private static let cacheLimit = 1 << 20

    /// Makes a collapser with these options.
    public init(options: PerfCollapseOptions = PerfCollapseOptions()) {
        self.options = options
        self.eventFilter = Array(options.eventFilter.utf8)
    }

    /// A collapser whose trie's frame groups are `groups`, interned already (and shared,
    /// unchanged, with other collapsers): for ``replay(_:scan:groupOf:)``.
    init(options: PerfCollapseOptions, groups: ByteTable) {
        self.init(options: options)
        trie = StackTrie(groups: groups)
    }

    /// Collapses a whole `perf script` output. Files are mapped into memory and, when large,
    /// split at sample boundaries and collapsed on several cores; the result is the same.
    public static func collapse(
        _ source: ByteSource, options: PerfCollapseOptions = PerfCollapseOptions(), threads: Int = PerfCollapser.defaultThreads
    ) throws -> PerfCollapser {
        let mapped = try source.withMappedBytes(populate: false) {
            collapse(bytes: $0, options: options, threads: threads, populated: false)
        }
        if let result = mapped {
            return result
        }
        var collapser = PerfCollapser(options: options)
        try source.forEachLine { collapser.consume(line: $0) }
        collapser.settle()
        return collapser
    }

    /// Calls `body` with the folded text of ``stacks`` (``FoldedStacks/writeFolded(sorted:_:)``),
    /// reading a parallel collapse's parts in step instead of merging them first.
    public func writeFolded(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        if trie.isEmpty, !laterParts.isEmpty, partOrders.count == laterParts.count + 1 {
            try FoldedStacks.writeFoldedMerging([settled] + laterParts, orders: partOrders, body)
        } else {
            try stacks.writeFolded(body)
        }
    }

    /// Writes the stacks held in the trie out as bytes, so that ``stacks`` costs nothing.
    mutating func settle() {
        trie.settle(into: &settled)
    }

    /// Processes one line of `perf script` output (without its newline).
    public mutating func consume(line: UnsafeBufferPointer<UInt8>) {
        consume(line: line, lookup: nil)
    }

    /// A line's cache lookup done ahead of time (a batch of lookups runs faster than one at a
    /// time: their memory accesses overlap); valid while the seed is the one used.
    struct Lookup {
        var fingerprint: FingerprintTable.Fingerprint
        var seed: UInt64
        var cached: UInt32?
    }

    /// Processes the complete lines of `bytes`, looking up stack lines a batch at a time: the
    /// batch's table slots are first loaded together, so that their cache misses overlap.
    mutating func consume(lines bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        let batch = 16
        let ranges = UnsafeMutableBufferPointer<Range<Int>>.allocate(capacity: batch)
        let lookups = UnsafeMutableBufferPointer<Lookup?>.allocate(capacity: batch)
        defer {
            ranges.deallocate()
            lookups.deallocate()
        }
        var touched: UInt64 = 0
        var position = 0
        while position < bytes.count {
            var n = 0
            let seed: UInt64 = isJava ? 1 : 0
            while n < batch, position < bytes.count {
                let end: Int
                if ASCII.isSpace(base[position]), base[position] != ASCII.newline {
                    // A stack line: its end and its fingerprint in one pass.
                    let line = FingerprintTable.fingerprintLine(base, from: position, limit: bytes.count, seed: seed)
                    end = line.end
                    lookups[n] = Lookup(fingerprint: line.fingerprint, seed: seed, cached: nil)
                } else {
                    if let hit = memchr(base + position, 10, bytes.count - position) {
                        end = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
                    } else {
                        end = bytes.count
                    }
                    lookups[n] = nil
                }
                ranges[n] = position..<end
                n += 1
                position = end + 1
            }
            for i in 0..<n {
                if let fingerprint = lookups[i]?.fingerprint { touched ^= lineCache.firstSlot(fingerprint) }
            }
            for i in 0..<n {
                var lookup = lookups[i]
                if let fingerprint = lookup?.fingerprint { lookup!.cached = lineCache.find(fingerprint) }
                consume(line: UnsafeBufferPointer(rebasing: bytes[ranges[i]]), lookup: lookup)
            }
        }
        touchedSlots = touched
    }

    private mutating func consume(line: UnsafeBufferPointer<UInt8>, lookup: Lookup?) {
        if let first = line.first, first == 0x23 { return }  // '#' comments
        if line.isEmpty {
            endSample()
            return
        }
        if !ASCII.isSpace(line[0]), let header = PerfLineParser.header(line) {
            startSample(header, line: line)
            return
        }
        let seed: UInt64 = isJava ? 1 : 0
        let fingerprint: FingerprintTable.Fingerprint
        let found: UInt32?
        if let lookup, lookup.seed == seed {
            fingerprint = lookup.fingerprint
            found = lookup.cached ?? lineCache.find(fingerprint)
        } else {
            fingerprint = FingerprintTable.fingerprint(line, seed: seed)
            found = lineCache.find(fingerprint)
        }
        if let cached = found {
            guard root != nil, cached != Self.noFrames else { return }
            groups.append(cached)
            return
        }
        guard let frame = PerfLineParser.frame(line) else {
            unrecognizedLines += 1
            return
        }
        guard root != nil else { return }
        var bytes: [UInt8] = []
        swap(&bytes, &groupBuffer)
        bytes.removeAll(keepingCapacity: true)
        let group = tidyFrame(frame, line: line, into: &bytes) ? bytes.withUnsafeBufferPointer { trie.group($0) } : nil
        swap(&bytes, &groupBuffer)
        if lineCache.count < Self.cacheLimit {
            lineCache.insert(fingerprint, value: group ?? Self.noFrames)
        }
        if let group { groups.append(group) }
    }

    /// Collapses a part read by ``PerfLineScan``, whose stack lines are resolved already:
    /// `groupOf` gives, by the scan's line index, the frame group in this collapser's trie,
    /// ``noFrames`` or ``unrecognizedLine``. The same result as consuming the part's lines.
    mutating func replay(_ bytes: UnsafeBufferPointer<UInt8>, scan: PerfLineScan, groupOf: UnsafeBufferPointer<UInt32>) {
        var h = 0
        do {
            for token in scan.tokens.buffer {
                if token == PerfLineScan.blank {
                    endSample()
                } else if token == PerfLineScan.header {
                    let line = UnsafeBufferPointer(rebasing: bytes[scan.headers[h]])
                    h += 1
                    if let header = PerfLineParser.header(line) { startSample(header, line: line) }
                } else {
                    let group = groupOf[Int(token)]
                    if group == Self.unrecognizedLine {
                        unrecognizedLines += 1
                    } else if root != nil, group != Self.noFrames {
                        groups.append(group)
                    }
                }
            }
        }
    }

    /// What one stack line adds, as ``consume(line:)`` would find it in a sample of a Java
    /// process (`java`) or not: ``unrecognizedLine``, ``noFrames``, or 0 with the line's frames
    /// appended to `out`.
    mutating func tidyLine(_ line: UnsafeBufferPointer<UInt8>, java: Bool, into out: inout [UInt8]) -> UInt32 {
        isJava = java
        guard let frame = PerfLineParser.frame(line) else { return Self.unrecognizedLine }
        return tidyFrame(frame, line: line, into: &out) ? 0 : Self.noFrames
    }

    private mutating func endSample() {
        guard let root else { return }
        // Consecutive samples mostly share their first frames: those nodes are the last
        // sample's, found without a lookup.
        var node = root
        var depth = 0
        let count = groups.count
        if root != lastRoot {
            lastRoot = root
            lastGroups.removeAll(keepingCapacity: true)
            lastNodes.removeAll(keepingCapacity: true)
        }
        while depth < count, depth < lastGroups.count, lastGroups[depth] == groups[count - 1 - depth] {
            node = lastNodes[depth]
            depth += 1
        }
        lastGroups.removeSubrange(depth...)
        lastNodes.removeSubrange(depth...)
        while depth < count {
            let group = groups[count - 1 - depth]
            node = trie.child(node, group: group)
            lastGroups.append(group)
            lastNodes.append(node)
            depth += 1
        }
        trie.add(node, count: period)
        sampleCount += 1
        groups.removeAll(keepingCapacity: true)
        self.root = nil
    }

    private mutating func startSample(_ header: PerfLineParser.Header, line: UnsafeBufferPointer<UInt8>) {
        var samplePeriod: Double = 1
        if let event = header.event {
            let eventBytes = line[event]
            if eventFilter.isEmpty {
                eventFilter = Array(eventBytes)
                eventDefaulted = true
            } else if !Self.isEvent(line, event, eventFilter) {
                if eventDefaulted && !eventWarned {
                    notices.append("Filtering for events of type: \(String(decoding: eventBytes, as: UTF8.self))")
                    eventWarned = true
                }
                return
            }
        }
        if let digits = header.period, !(digits.count == 1 && line[digits.lowerBound] == ASCII.zero) {
            samplePeriod = NumberFormat.parseCount(UnsafeBufferPointer(rebasing: line[digits])) ?? 1
        }
        period = samplePeriod
        var name: [UInt8] = []
        swap(&name, &nameBuffer)  // not a copy: one owner, so no copy on write
        name.removeAll(keepingCapacity: true)
        name.append(contentsOf: UnsafeBufferPointer(rebasing: line[header.comm]))
        if options.includeTID || options.includePID {
            // Without a thread id, the "pid" is the thread's and the process is "?".
            var pid = header.pid
            let tid: Range<Int>
            if let t = header.tid, !(t.count == 1 && line[t.lowerBound] == ASCII.zero) {
                tid = t
            } else {
                tid = pid
                pid = 0..<0
            }
            name.append(0x2D)
            if pid.isEmpty { name.append(0x3F) } else { name.append(contentsOf: UnsafeBufferPointer(rebasing: line[pid])) }
            if options.includeTID {
                name.append(0x2F)
                name.append(contentsOf: UnsafeBufferPointer(rebasing: line[tid]))
            }
        }
        for i in name.indices where name[i] == ASCII.space { name[i] = 0x5F }
        isJava = name.starts(with: [0x6A, 0x61, 0x76, 0x61])  // "java"
        root = trie.root(name)
        nameBuffer = name
    }

    /// Whether `line[event]` is `filter` (memcmp: the generic comparison showed in profiles).
    @inline(__always)
    static func isEvent(_ line: UnsafeBufferPointer<UInt8>, _ event: Range<Int>, _ filter: [UInt8]) -> Bool {
        guard event.count == filter.count else { return false }
        guard !filter.isEmpty else { return true }
        return filter.withUnsafeBufferPointer { memcmpBytes(line.baseAddress! + event.lowerBound, $0.baseAddress!, event.count) == 0 }
    }

    /// Appends the frames of one stack line, joined with `;`, to `out`; false (and nothing
    /// appended) when the line adds none.
    private mutating func tidyFrame(_ frame: PerfLineParser.Frame, line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        var rawEnd = frame.function.upperBound
        let rawStart = frame.function.lowerBound
        // Strip a trailing "+0x[\da-f]+" (symbol offsets).
        var j = rawEnd
        while j > rawStart, ASCII.isLowerHex(line[j - 1]) { j -= 1 }
        if j < rawEnd, j - rawStart >= 3, line[j - 1] == 0x78, line[j - 2] == ASCII.zero, line[j - 3] == 0x2B {
            rawEnd = j - 3
        }
        if rawEnd > rawStart, line[rawStart] == 0x28 { return false }  // "(" process names
        let module = UnsafeBufferPointer(rebasing: line[frame.module])
        let pc = UnsafeBufferPointer(rebasing: line[frame.pc])
        // split /->/, dropping trailing empty fields: "->" cannot overlap itself, so those are
        // the "->"s the name ends with.
        var end = rawEnd
        while end - rawStart >= 2, line[end - 2] == 0x2D, line[end - 1] == 0x3E { end -= 2 }
        guard end > rawStart else { return false }
        var start = rawStart
        var k = rawStart
        var field = 0
        while true {
            if k + 1 < end, line[k] == 0x2D, line[k + 1] == 0x3E {
                if field > 0 { out.append(ASCII.semicolon) }
                tidy(UnsafeBufferPointer(rebasing: line[start..<k]), module: module, pc: pc, inlined: field > 0, into: &out)
                field += 1
                k += 2
                start = k
            } else if k + 1 >= end {
                if field > 0 { out.append(ASCII.semicolon) }
                tidy(UnsafeBufferPointer(rebasing: line[start..<end]), module: module, pc: pc, inlined: field > 0, into: &out)
                return true
            } else {
                k += 1
            }
        }
    }

    private static let unknown = Array("[unknown]".utf8)

    /// Appends the cleaned-up name of one function to `out`.
    private mutating func tidy(
        _ function: UnsafeBufferPointer<UInt8>, module: UnsafeBufferPointer<UInt8>,
        pc: UnsafeBufferPointer<UInt8>, inlined: Bool, into out: inout [UInt8]
    ) {
        var f: [UInt8] = []
        swap(&f, &scratch)
        f.removeAll(keepingCapacity: true)
        if function.elementsEqual(Self.unknown) {
            f.append(0x5B)
            if !module.elementsEqual(Self.unknown) {
                var s = module.count
                while s > 0, module[s - 1] != 0x2F { s -= 1 }
                f.append(contentsOf: module[s...])
            } else {
                f.append(contentsOf: "unknown".utf8)
            }
            if options.includeAddresses {
                f.append(contentsOf: " <".utf8)
                f.append(contentsOf: pc)
                f.append(0x3E)
            }
            f.append(0x5D)
        } else {
            f.append(contentsOf: function)
        }
        PerfNameTidy.tidyGeneric(&f)
        if isJava, f.first == 0x4C, f.contains(0x2F) { f.removeFirst() }
        if inlined {
            if !PerfNameTidy.contains(f, "_[i]") { f.append(contentsOf: "_[i]".utf8) }
        } else if options.annotateKernel, PerfNameTidy.isKernelModule(module) {
            f.append(contentsOf: "_[k]".utf8)
        } else if options.annotateJIT, PerfNameTidy.isJITModule(module) {
            if !PerfNameTidy.contains(f, "_[j]") { f.append(contentsOf: "_[j]".utf8) }
        }
        out.append(contentsOf: f)
        scratch = f
    }
}
