#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One part of a `perf script` output read once, for a parallel collapse whose threads share the
/// work of distinct stack lines: each line becomes a token (a sample header, a blank line, or the
/// index of a distinct stack line), and each distinct stack line is kept once, where it first
/// occurs, with its fingerprint in ``table``. Nothing is tidied here: the collapse tidies every distinct line
/// of all the parts once, then replays the tokens (``PerfCollapser/replay(_:scan:groupOf:)``).
///
/// A stack line is told apart by its bytes and by whether it was read in a sample of a Java
/// process (which tidies differently), following the headers as ``PerfCollapser`` does
/// (a header of a filtered-out event changes nothing).
struct PerfLineScan: Sendable {
    /// The token of an empty line (the end of a sample).
    static let blank = UInt32.max
    /// The token of a sample header (its line is the next of ``headers``).
    static let header = UInt32.max - 1
    /// Parts with more distinct stack lines than this are collapsed the plain way.
    static let distinctLimit = 1 << 22

    /// Where a distinct stack line first occurs, and whether in a Java process's sample.
    struct DistinctLine: Sendable {
        var start: Int
        var end: Int
        var java: Bool
    }

    /// A token per line, comments left out.
    let tokens: TokenList
    /// The header lines, in order (offsets in the whole input).
    private(set) var headers: [Range<Int>] = []
    /// The distinct stack lines, by index.
    private(set) var lines: [DistinctLine] = []
    /// From a stack line's fingerprint to its index.
    private(set) var table: FingerprintTable
    /// Whether the part had more than ``distinctLimit`` distinct lines (the scan then stopped).
    private(set) var overflowed = false
    private var eventFilter: [UInt8]
    private var isJava = false
    /// Where the batched slot loads go (kept so that the compiler keeps the loads).
    private var touchedSlots: UInt64 = 0

    /// Reads the lines of `bytes[range]` (which ends after a newline, or at the end of `bytes`),
    /// filtering on `eventFilter` as a collapser of that part would.
    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, eventFilter: [UInt8]) {
        self.eventFilter = eventFilter
        tokens = TokenList(capacity: range.count / 32)
        // Room for a distinct line every 400 bytes (a perf capture of a busy program has one
        // every 400-800), so that the table seldom grows: growing re-inserts every line.
        table = FingerprintTable(capacity: max(4096, range.count / 400))
        scan(bytes, range)
    }

    /// Lines a batch at a time, as ``PerfCollapser/consume(lines:)`` reads them: a stack line's
    /// end and fingerprint in one pass, and the batch's table slots loaded together.
    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        guard let base = bytes.baseAddress else { return }
        let batch = 16
        let starts = UnsafeMutableBufferPointer<Int>.allocate(capacity: batch)
        let ends = UnsafeMutableBufferPointer<Int>.allocate(capacity: batch)
        let prints = UnsafeMutableBufferPointer<FingerprintTable.Fingerprint?>.allocate(capacity: batch)
        defer {
            starts.deallocate()
            ends.deallocate()
            prints.deallocate()
        }
        let limit = range.upperBound
        var touched: UInt64 = 0
        var position = range.lowerBound
        while position < limit, !overflowed {
            var n = 0
            let seed: UInt64 = isJava ? 1 : 0
            while n < batch, position < limit {
                let end: Int
                if ASCII.isSpace(base[position]), base[position] != ASCII.newline {
                    let line = FingerprintTable.fingerprintLine(base, from: position, limit: limit, seed: seed)
                    end = line.end
                    prints[n] = line.fingerprint
                } else {
                    if let hit = memchr(base + position, 10, limit - position) {
                        end = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
                    } else {
                        end = limit
                    }
                    prints[n] = nil
                }
                starts[n] = position
                ends[n] = end
                n += 1
                position = end + 1
            }
            for i in 0..<n {
                if let fingerprint = prints[i] { touched ^= table.firstSlot(fingerprint) }
            }
            for i in 0..<n {
                add(starts[i]..<ends[i], base, fingerprint: prints[i], seed: seed)
            }
        }
        touchedSlots = touched
    }

    private mutating func add(_ range: Range<Int>, _ base: UnsafePointer<UInt8>, fingerprint precomputed: FingerprintTable.Fingerprint?, seed batchSeed: UInt64) {
        let line = UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        if let first = line.first, first == 0x23 { return }  // '#' comments
        if line.isEmpty {
            tokens.append(Self.blank)
            return
        }
        if !ASCII.isSpace(line[0]), let header = PerfLineParser.header(line) {
            tokens.append(Self.header)
            headers.append(range)
            if let event = header.event {
                if eventFilter.isEmpty {
                    eventFilter = Array(line[event])
                } else if !PerfCollapser.isEvent(line, event, eventFilter) {
                    return
                }
            }
            // The process name starts with "java" exactly when the command does (what
            // --pid/--tid append starts with "-").
            let comm = line[header.comm]
            isJava = comm.count >= 4 && comm.starts(with: [0x6A, 0x61, 0x76, 0x61])
            return
        }
        guard !overflowed else { return }
        let seed: UInt64 = isJava ? 1 : 0
        let fingerprint: FingerprintTable.Fingerprint
        if let precomputed, batchSeed == seed {
            fingerprint = precomputed
        } else {
            fingerprint = FingerprintTable.fingerprint(line, seed: seed)
        }
        if let index = table.find(fingerprint) {
            tokens.append(index)
            return
        }
        guard lines.count < Self.distinctLimit else {
            overflowed = true
            return
        }
        let index = UInt32(truncatingIfNeeded: lines.count)
        table.insert(fingerprint, value: index)
        lines.append(DistinctLine(start: range.lowerBound, end: range.upperBound, java: isJava))
        tokens.append(index)
    }

    /// Gives up the table (the collapse reuses part 0's as the table of all parts).
    mutating func takeTable() -> FingerprintTable {
        let taken = table
        table = FingerprintTable(capacity: 16)
        return taken
    }
}

/// The tokens of a ``PerfLineScan``: a growable buffer of 32-bit words, appended to without the
/// uniqueness check of an array's append (a million appends a 50 MB input).
final class TokenList: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt32>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(16, capacity)
        base = UnsafeMutablePointer<UInt32>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    func append(_ token: UInt32) {
        if count == capacity { grow() }
        base[count] = token
        count += 1
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    var buffer: UnsafeBufferPointer<UInt32> { UnsafeBufferPointer(start: base, count: count) }
}
