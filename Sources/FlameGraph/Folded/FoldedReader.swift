/// Reads folded stacks (`a;b;c 12`, one stack a line) as flamegraph.pl reads them.
///
/// A line is `STACK COUNT` where COUNT is `\d+(\.\d*)?` after the last white space; a line may
/// carry two counts (`STACK BEFORE AFTER`, a differential profile). Frame names may contain
/// spaces. A final `\r` (CRLF files) is ignored. Lines that do not parse are counted, not fatal.
public struct FoldedReader: Sendable {
    /// How many lines could not be parsed.
    public private(set) var invalidLines = 0
    /// The stacks read so far.
    public private(set) var stacks: FoldedStacks

    /// Makes a reader; `merging: false` keeps input order (for flame charts).
    public init(merging: Bool = true) {
        stacks = FoldedStacks(merging: merging)
    }

    /// Reads every line of `source`.
    public static func read(_ source: ByteSource, merging: Bool = true) throws -> FoldedReader {
        if !merging, let file = try source.mappedFile() {
            // Unmerged stacks stay in the mapped file: no copy of the input.
            var reader = FoldedReader(merging: false)
            reader.stacks = FoldedStacks(unmergedIn: file)
            reader.stacks.reserveCapacity(stacks: min(file.bytes.count / 64, 1 << 20), bytes: 0)
            try ByteSource.splitLines(file.bytes, final: true) { reader.consume(line: $0) }
            return reader
        }
        var reader = FoldedReader(merging: merging)
        let mapped: Bool? = try source.withMappedBytes { bytes in
            // Folded input is mostly distinct stacks: room for all of it up front.
            reader.stacks.reserveCapacity(stacks: min(bytes.count / 64, 1 << 20), bytes: min(bytes.count, 1 << 28))
            try ByteSource.splitLines(bytes, final: true) { reader.consume(line: $0) }
            return true
        }
        if mapped == nil {
            try source.forEachLine { reader.consume(line: $0) }
        }
        return reader
    }

    /// Parses one line (without its newline).
    public mutating func consume(line raw: UnsafeBufferPointer<UInt8>) {
        var line = raw
        if let last = line.last, last == ASCII.carriageReturn {
            line = UnsafeBufferPointer(rebasing: line.dropLast())
        }
        guard let (stackEnd, count) = Self.splitCount(line) else {
            invalidLines += 1
            return
        }
        var stack = UnsafeBufferPointer(rebasing: line[0..<stackEnd])
        var baseline: Double?
        if let (innerEnd, first) = Self.splitCount(stack) {
            baseline = first
            stack = UnsafeBufferPointer(rebasing: stack[0..<innerEnd])
        }
        stacks.add(stack, count: count, baseline: baseline)
    }

    /// Splits `^(.*)\s+?(\d+(?:\.\d*)?)$`: returns the end of the stack and the count.
    static func splitCount(_ line: UnsafeBufferPointer<UInt8>) -> (Int, Double)? {
        var i = line.count
        while i > 0, !ASCII.isSpace(line[i - 1]) { i -= 1 }
        guard i > 0, i < line.count else { return nil }
        guard let count = NumberFormat.parseCount(UnsafeBufferPointer(rebasing: line[i...])) else { return nil }
        return (i - 1, count)
    }
}
