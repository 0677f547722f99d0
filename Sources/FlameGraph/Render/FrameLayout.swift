/// One frame of a flame graph: a function at a depth, spanning a range of the merged samples.
public struct Frame: Sendable, Equatable {
    /// Index of the stack (in ``FoldedStacks/stacks``) the name was taken from.
    let stack: Int
    /// Byte range of the name inside that stack; empty for the root frame.
    let name: Range<Int>
    /// Depth: 0 is the root (`all`).
    public let depth: Int
    /// Where the frame starts, in samples from the left edge.
    public let start: Double
    /// Where the frame ends, in samples from the left edge.
    public let end: Double
    /// Differential graphs: the "after" minus "before" count of the stack that opened this frame.
    public let delta: Double?
}

/// Merges sorted stacks into frames as flamegraph.pl's `flow` does: adjacent stacks share the
/// frames of their common prefix.
struct FrameLayout: Sendable {
    /// The frames, root last.
    private(set) var frames: [Frame] = []
    /// Sum of the counts (the width of the root).
    private(set) var total: Double = 0
    /// The largest absolute delta (at least 1), for differential colours.
    private(set) var maxDelta: Double = 1

    /// Lays out `stacks`: sorted as flamegraph.pl sorts lines, or in input order for flame charts.
    /// `minimumWidth` gives, from the total, the narrowest frame kept (narrower ones are dropped).
    init(_ stacks: FoldedStacks, flameChart: Bool, minimumWidth: (Double) -> Double = { _ in 0 }) {
        let order = flameChart ? Array(stacks.stacks.indices) : stacks.sortedIndices(asLines: true)
        var sum: Double = 0
        for index in order { sum += stacks.counts[index] }
        let minTime = minimumWidth(sum)
        var open: [(stack: Int, name: Range<Int>, start: Double, delta: Double?)] = []
        var frames: [Frame] = []
        frames.reserveCapacity(min(stacks.count * 2, 1 << 16))
        var time: Double = 0
        var names: [Range<Int>] = []
        stacks.stacks.withUnsafeBufferPointer { all in
            for index in order {
                let bytes = all[index]
                names.removeAll(keepingCapacity: true)
                names.append(0..<0)
                Self.split(bytes, into: &names)
                var delta: Double?
                if let before = stacks.baselines[index] {
                    let d = stacks.counts[index] - before
                    delta = d
                    if abs(d) > maxDelta { maxDelta = abs(d) }
                }
                // Length of the common prefix with the open frames.
                var same = 0
                bytes.withUnsafeBufferPointer { current in
                    while same < open.count, same < names.count {
                        let o = open[same]
                        if same > 0 {
                            let r = names[same]
                            if o.name.count != r.count { break }
                            let equal = all[o.stack].withUnsafeBufferPointer { prev in
                                r.isEmpty || memcmpBytes(prev.baseAddress! + o.name.lowerBound, current.baseAddress! + r.lowerBound, r.count) == 0
                            }
                            if !equal { break }
                        }
                        same += 1
                    }
                }
                while open.count > same {
                    let o = open.removeLast()
                    if !(time - o.start < minTime) {
                        frames.append(Frame(stack: o.stack, name: o.name, depth: open.count, start: o.start, end: time, delta: o.delta))
                    }
                }
                let last = names.count - 1
                for i in same..<names.count {
                    open.append((index, names[i], time, delta.map { i == last ? $0 : 0 }))
                }
                time += stacks.counts[index]
            }
        }
        while let o = open.popLast() {
            if !(time - o.start < minTime) {
                frames.append(Frame(stack: o.stack, name: o.name, depth: open.count, start: o.start, end: time, delta: o.delta))
            }
        }
        self.frames = frames
        self.total = time
    }

    /// Perl's `split ";"`: fields between semicolons, trailing empty fields dropped.
    static func split(_ bytes: [UInt8], into names: inout [Range<Int>]) {
        let base = names.count
        var start = 0
        for i in bytes.indices where bytes[i] == ASCII.semicolon {
            names.append(start..<i)
            start = i + 1
        }
        names.append(start..<bytes.count)
        while names.count > base, names[names.count - 1].isEmpty { names.removeLast() }
    }
}
