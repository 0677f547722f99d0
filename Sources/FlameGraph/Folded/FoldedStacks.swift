/// Folded stacks: each distinct stack (`root;caller;callee`, as bytes) with its count.
///
/// This is the format every collapser produces and the renderer reads. Adding the same stack
/// again sums its count, so memory follows the number of distinct stacks. A stack may also carry
/// a baseline count (the first column of a differential line `stack before after`).
public struct FoldedStacks: Sendable {
    /// The distinct stacks, in the order they were first added.
    public private(set) var stacks: [[UInt8]] = []
    /// The count of each stack (for differential lines: the "after" count).
    public private(set) var counts: [Double] = []
    /// The baseline ("before") count of each stack, or nil when the stack has no baseline.
    public private(set) var baselines: [Double?] = []
    /// Whether any stack has a baseline count (a differential profile).
    public private(set) var isDifferential = false
    /// Whether equal stacks are merged wherever they occur (the default), or only when adjacent
    /// (a flame chart keeps the order of its input).
    public let merges: Bool
    private var index = ByteTable()

    /// Makes an empty set of stacks.
    /// - Parameter merging: false keeps input order and merges only adjacent equal stacks.
    public init(merging: Bool = true) {
        self.merges = merging
    }

    /// The number of distinct stacks.
    public var count: Int { stacks.count }

    /// The sum of all counts.
    public var total: Double { counts.reduce(0, +) }

    /// Adds `count` samples of `stack` (frames separated by `;`).
    public mutating func add(_ stack: [UInt8], count: Double, baseline: Double? = nil) {
        stack.withUnsafeBufferPointer { add($0, count: count, baseline: baseline) }
    }

    /// Adds a stack given as a buffer (copied only when it is new).
    public mutating func add(_ stack: UnsafeBufferPointer<UInt8>, count: Double, baseline: Double? = nil) {
        if baseline != nil { isDifferential = true }
        if merges {
            let (id, inserted) = index.id(of: stack)
            if !inserted {
                accumulate(at: id, count: count, baseline: baseline)
                return
            }
        } else if let last = stacks.last, last.count == stack.count,
                  last.withUnsafeBufferPointer({ $0.count == 0 || memcmpBytes($0.baseAddress!, stack.baseAddress!, $0.count) == 0 }) {
            accumulate(at: stacks.count - 1, count: count, baseline: baseline)
            return
        }
        stacks.append(Array(stack))
        counts.append(count)
        baselines.append(baseline)
    }

    /// Adds every stack of `other` (with its counts).
    public mutating func merge(_ other: FoldedStacks) {
        for i in other.stacks.indices {
            add(other.stacks[i], count: other.counts[i], baseline: other.baselines[i])
        }
    }

    private mutating func accumulate(at i: Int, count: Double, baseline: Double?) {
        counts[i] += count
        if let baseline { baselines[i] = (baselines[i] ?? 0) + baseline }
    }

    /// Indices of the stacks in byte order: of the stacks themselves (as stackcollapse-perf.pl
    /// sorts its keys), or of their folded lines `stack count` (as flamegraph.pl sorts its input).
    public func sortedIndices(asLines: Bool = false) -> [Int] {
        var order = Array(stacks.indices)
        stacks.withUnsafeBufferPointer { all in
            if asLines {
                order.sort { FoldedStacks.lineOrder(all[$0], all[$1]) }
            } else {
                order.sort { FoldedStacks.byteOrder(all[$0], all[$1]) }
            }
        }
        return order
    }

    /// Plain bytewise order (Perl's `cmp` on byte strings).
    static func byteOrder(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                let n = min(pa.count, pb.count)
                let c = n == 0 ? 0 : memcmpBytes(pa.baseAddress!, pb.baseAddress!, n)
                return c != 0 ? c < 0 : pa.count < pb.count
            }
        }
    }

    /// Compares two stacks as the lines `stack count` compare bytewise: the end of a stack
    /// sorts like the space that follows it.
    static func lineOrder(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                let n = min(pa.count, pb.count)
                let c = n == 0 ? 0 : memcmpBytes(pa.baseAddress!, pb.baseAddress!, n)
                if c != 0 { return c < 0 }
                if pa.count == pb.count { return false }
                if pa.count < pb.count { return ASCII.space < pb[n] || (ASCII.space == pb[n]) }
                return pa[n] < ASCII.space
            }
        }
    }

    /// The folded text: one `stack count` line per stack, sorted bytewise, as
    /// stackcollapse-perf.pl prints it.
    public func foldedBytes(sorted: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(stacks.reduce(0) { $0 + $1.count + 12 })
        for i in sorted ? sortedIndices() : Array(stacks.indices) {
            out.append(contentsOf: stacks[i])
            out.append(ASCII.space)
            if let baseline = baselines[i] {
                NumberFormat.appendPerl(baseline, to: &out)
                out.append(ASCII.space)
            }
            NumberFormat.appendPerl(counts[i], to: &out)
            out.append(ASCII.newline)
        }
        return out
    }
}
