/// Folded stacks: each distinct stack (`root;caller;callee`, as bytes) with its count.
///
/// This is the format every collapser produces and the renderer reads. Adding the same stack
/// again sums its count, so memory follows the number of distinct stacks (their bytes are kept
/// once, back to back). A stack may also carry a baseline count (the first column of a
/// differential line `stack before after`).
public struct FoldedStacks: Sendable {
    /// The count of each stack (for differential lines: the "after" count).
    public private(set) var counts: [Double] = []
    /// The baseline ("before") count of each stack, or nil when the stack has no baseline.
    public private(set) var baselines: [Double?] = []
    /// Whether any stack has a baseline count (a differential profile).
    public private(set) var isDifferential = false
    /// Whether equal stacks are merged wherever they occur (the default), or only when adjacent
    /// (a flame chart keeps the order of its input).
    public let merges: Bool
    private var table = ByteTable()

    /// Makes an empty set of stacks.
    /// - Parameter merging: false keeps input order and merges only adjacent equal stacks.
    public init(merging: Bool = true) {
        self.merges = merging
    }

    /// Stacks that stay in `file` (the reader adds them from it, unmerged): nothing is copied
    /// unless a stack from elsewhere is added.
    init(unmergedIn file: MappedFile) {
        self.merges = false
        table = ByteTable(borrowing: file)
    }

    /// The number of distinct stacks.
    public var count: Int { counts.count }

    /// The bytes of all stacks together.
    var byteCount: Int { table.byteCount }

    /// The sum of all counts.
    public var total: Double { counts.reduce(0, +) }

    /// The bytes of stack `index` (in the order stacks were first added).
    public func stack(_ index: Int) -> ArraySlice<UInt8> { table.key(index) }

    /// Every stack, as a copy (in the order they were first added).
    public var stacks: [[UInt8]] { (0..<count).map { Array(table.key($0)) } }

    /// Calls `body` with the stacks' storage and where each is in it: stack `i` is `bytes[spans[i]]`.
    func withStorage<R>(_ body: (UnsafeBufferPointer<UInt8>, KeySpans) throws -> R) rethrows -> R {
        try table.withKeys(body)
    }

    /// Makes room for about `stacks` stacks of `bytes` bytes in all.
    public mutating func reserveCapacity(stacks: Int, bytes: Int) {
        table.reserve(keys: stacks, bytes: bytes, indexed: merges)
        counts.reserveCapacity(stacks)
        baselines.reserveCapacity(stacks)
    }

    /// Adds `count` samples of `stack` (frames separated by `;`).
    public mutating func add(_ stack: [UInt8], count: Double, baseline: Double? = nil) {
        stack.withUnsafeBufferPointer { add($0, count: count, baseline: baseline) }
    }

    /// Adds a stack given as a buffer (copied only when it is new).
    public mutating func add(_ stack: UnsafeBufferPointer<UInt8>, count: Double, baseline: Double? = nil) {
        if baseline != nil { isDifferential = true }
        if merges {
            let (id, inserted) = table.id(of: stack)
            if !inserted {
                accumulate(at: id, count: count, baseline: baseline)
                return
            }
        } else {
            let last = counts.count - 1
            if last >= 0, table.equals(last, stack) {
                accumulate(at: last, count: count, baseline: baseline)
                return
            }
            _ = table.appendUnindexed(stack)
        }
        counts.append(count)
        baselines.append(baseline)
    }

    /// Adds every stack of `other` (with its counts).
    public mutating func merge(_ other: FoldedStacks) {
        if merges, other.merges {
            // Both indexed: the other's hashes are reused.
            other.withStorage { bytes, spans in
                for i in 0..<other.count {
                    let baseline = other.baselines[i]
                    if baseline != nil { isDifferential = true }
                    let (id, inserted) = table.id(of: UnsafeBufferPointer(rebasing: bytes[spans[i]]), hash: other.table.storedHash(i))
                    if inserted {
                        counts.append(other.counts[i])
                        baselines.append(baseline)
                    } else {
                        accumulate(at: id, count: other.counts[i], baseline: baseline)
                    }
                }
            }
            return
        }
        other.withStorage { bytes, spans in
            for i in 0..<other.count {
                add(UnsafeBufferPointer(rebasing: bytes[spans[i]]), count: other.counts[i], baseline: other.baselines[i])
            }
        }
    }

    /// The same stacks with every count (and baseline) multiplied by `factor`: nanoseconds to
    /// milliseconds, say.
    public func scaled(by factor: Double) -> FoldedStacks {
        var out = self
        for i in out.counts.indices {
            out.counts[i] *= factor
            if let baseline = out.baselines[i] { out.baselines[i] = baseline * factor }
        }
        return out
    }

    private mutating func accumulate(at i: Int, count: Double, baseline: Double?) {
        counts[i] += count
        if let baseline { baselines[i] = (baselines[i] ?? 0) + baseline }
    }

    /// Indices of the stacks in byte order: of the stacks themselves (as stackcollapse-perf.pl
    /// sorts its keys), or of their folded lines `stack count` (as flamegraph.pl sorts its input).
    public func sortedIndices(asLines: Bool = false) -> [Int] {
        var order = Array(0..<count)
        withStorage { bytes, spans in
            let base = bytes.baseAddress
            order.sort { i, j in
                let a = spans.starts[i], aEnd = spans.ends[i], b = spans.starts[j], bEnd = spans.ends[j]
                let la = aEnd - a, lb = bEnd - b
                let n = min(la, lb)
                let c = n == 0 ? 0 : memcmpBytes(base! + a, base! + b, n)
                if c != 0 { return c < 0 }
                if !asLines { return la < lb }
                // Lines: the end of a stack sorts like the space that follows it.
                if la == lb { return false }
                if la < lb { return ASCII.space <= bytes[b + n] }
                return bytes[a + n] < ASCII.space
            }
        }
        return order
    }

    /// Calls `body` with the folded text in pieces: one `stack count` line per stack, sorted
    /// bytewise as stackcollapse-perf.pl prints it (or in insertion order).
    public func writeFolded(sorted: Bool = true, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 18)
        let order = sorted ? sortedIndices() : Array(0..<count)
        try withStorage { bytes, spans in
            for i in order {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[spans[i]]))
                out.append(ASCII.space)
                if let baseline = baselines[i] {
                    NumberFormat.appendPerl(baseline, to: &out)
                    out.append(ASCII.space)
                }
                NumberFormat.appendPerl(counts[i], to: &out)
                out.append(ASCII.newline)
                if out.count >= 1 << 18 {
                    try out.withUnsafeBufferPointer(body)
                    out.removeAll(keepingCapacity: true)
                }
            }
        }
        if !out.isEmpty { try out.withUnsafeBufferPointer(body) }
    }

    /// The folded text (see ``writeFolded(sorted:_:)``) in one buffer.
    public func foldedBytes(sorted: Bool = true) -> [UInt8] {
        var all: [UInt8] = []
        writeFolded(sorted: sorted) { all.append(contentsOf: $0) }
        return all
    }
}
