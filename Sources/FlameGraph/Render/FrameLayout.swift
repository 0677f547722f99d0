#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One frame of a flame graph: a function at a depth, spanning a range of the merged samples.
public struct Frame: Sendable, Equatable {
    /// Index of the stack (in ``FoldedStacks``) that opened this frame.
    let stack: Int
    /// Byte range of the name in the stacks' storage; empty for the root frame.
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
        let order = flameChart ? Array(0..<stacks.count) : stacks.sortedIndices(asLines: true)
        var sum: Double = 0
        for index in order { sum += stacks.counts[index] }
        let minTime = minimumWidth(sum)
        var open: [(stack: Int, name: Range<Int>, start: Double, delta: Double?)] = []
        var frames: [Frame] = []
        frames.reserveCapacity(min(stacks.count * 2, 1 << 16))
        var time: Double = 0
        var names: [Range<Int>] = []
        var maxDelta: Double = 1
        stacks.withStorage { all, spans in
            guard let base = all.baseAddress else {
                // No stack bytes at all: only empty stacks (the root).
                for index in order { time += stacks.counts[index] }
                return
            }
            for index in order {
                let range = spans[index]
                names.removeAll(keepingCapacity: true)
                names.append(range.lowerBound..<range.lowerBound)
                Self.split(all, range, into: &names)
                var delta: Double?
                if let before = stacks.baselines[index] {
                    let d = stacks.counts[index] - before
                    delta = d
                    if abs(d) > maxDelta { maxDelta = abs(d) }
                }
                // Length of the common prefix with the open frames (the root always matches).
                var same = 0
                while same < open.count, same < names.count {
                    if same > 0 {
                        let o = open[same].name, r = names[same]
                        if o.count != r.count { break }
                        if !r.isEmpty && memcmpBytes(base + o.lowerBound, base + r.lowerBound, r.count) != 0 { break }
                    }
                    same += 1
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
        if open.isEmpty, !order.isEmpty {
            open.append((order[0], 0..<0, 0, nil))
        }
        while let o = open.popLast() {
            if !(time - o.start < minTime) {
                frames.append(Frame(stack: o.stack, name: o.name, depth: open.count, start: o.start, end: time, delta: o.delta))
            }
        }
        self.frames = frames
        self.total = time
        self.maxDelta = maxDelta
    }

    /// Perl's `split ";"`: fields between semicolons, trailing empty fields dropped.
    /// The ranges are absolute (indices of `bytes`).
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into names: inout [Range<Int>]) {
        let base = names.count
        var start = range.lowerBound
        if let pointer = bytes.baseAddress {
            while start < range.upperBound, let hit = memchr(pointer + start, Int32(ASCII.semicolon), range.upperBound - start) {
                let i = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - pointer
                names.append(start..<i)
                start = i + 1
            }
        }
        names.append(start..<range.upperBound)
        while names.count > base, names[names.count - 1].isEmpty { names.removeLast() }
    }
}
