/// Recognises the two kinds of `perf script` lines exactly as stackcollapse-perf.pl's regular
/// expressions do (including their backtracking), working on bytes.
enum PerfLineParser {
    /// A sample header: `comm pid[/tid] ... [period] event:`.
    struct Header {
        var comm: Range<Int>
        var pid: Range<Int>
        var tid: Range<Int>?
        /// The digits of the period, when present.
        var period: Range<Int>?
        /// The event name, when the line ends like `event:`.
        var event: Range<Int>?
    }

    /// A stack line: `  pc function (module)`.
    struct Frame {
        var pc: Range<Int>
        var function: Range<Int>
        var module: Range<Int>
    }

    /// `^(\S.+?)\s+(\d+)\/*(\d+)*\s+` and then `:\s*(\d+)*\s+(\S+):\s*$`.
    static func header(_ line: UnsafeBufferPointer<UInt8>) -> Header? {
        let n = line.count
        guard n >= 2, !ASCII.isSpace(line[0]) else { return nil }
        var header: Header?
        var e = 2
        while e < n {
            if ASCII.isSpace(line[e]), let found = headerFields(line, commEnd: e) {
                header = found
                break
            }
            e += 1
        }
        guard var result = header else { return nil }
        eventAndPeriod(line, into: &result)
        return result
    }

    private static func headerFields(_ line: UnsafeBufferPointer<UInt8>, commEnd: Int) -> Header? {
        let n = line.count
        var i = commEnd
        while i < n, ASCII.isSpace(line[i]) { i += 1 }
        let pidStart = i
        while i < n, ASCII.isDigit(line[i]) { i += 1 }
        guard i > pidStart else { return nil }
        let pid = pidStart..<i
        while i < n, line[i] == 0x2F { i += 1 }
        let tidStart = i
        while i < n, ASCII.isDigit(line[i]) { i += 1 }
        let tid: Range<Int>? = i > tidStart ? tidStart..<i : nil
        guard i < n, ASCII.isSpace(line[i]) else { return nil }
        return Header(comm: 0..<commEnd, pid: pid, tid: tid, period: nil, event: nil)
    }

    private static func eventAndPeriod(_ line: UnsafeBufferPointer<UInt8>, into header: inout Header) {
        var end = line.count
        while end > 0, ASCII.isSpace(line[end - 1]) { end -= 1 }
        guard end > 0, line[end - 1] == ASCII.colon else { return }
        var ts = end - 1
        while ts > 0, !ASCII.isSpace(line[ts - 1]) { ts -= 1 }
        guard ts < end - 1, ts > 0 else { return }
        var w = ts
        while w > 0, ASCII.isSpace(line[w - 1]) { w -= 1 }
        var d = w
        while d > 0, ASCII.isDigit(line[d - 1]) { d -= 1 }
        var s = d
        if d < w {
            while s > 0, ASCII.isSpace(line[s - 1]) { s -= 1 }
        }
        guard s > 0, line[s - 1] == ASCII.colon else { return }
        header.event = ts..<(end - 1)
        header.period = d < w ? d..<w : nil
    }

    /// `^\s*(\w+)\s*(.+) \((.*)\)`, with Perl's backtracking.
    static func frame(_ line: UnsafeBufferPointer<UInt8>) -> Frame? {
        let n = line.count
        var i0 = 0
        while i0 < n, ASCII.isSpace(line[i0]) { i0 += 1 }
        var a = i0
        while a < n, ASCII.isWord(line[a]) { a += 1 }
        guard a > i0 else { return nil }
        // The last ")" and the last " (" before it (leaving room for an empty module).
        var close = n - 1
        while close >= 0, line[close] != 0x29 { close -= 1 }
        guard close >= 2 else { return nil }
        var p = close - 2
        while p >= 0, !(line[p] == ASCII.space && line[p + 1] == 0x28) { p -= 1 }
        guard p >= 0 else { return nil }
        var c = a
        while c < n, ASCII.isSpace(line[c]) { c += 1 }
        let functionStart: Int
        let pcEnd: Int
        if p >= a + 1 {
            functionStart = min(c, p - 1)
            pcEnd = a
        } else {
            // Backtrack \w+ so that (.+) gets at least one character.
            guard p - 1 >= i0 + 1 else { return nil }
            pcEnd = p - 1
            functionStart = p - 1
        }
        return Frame(pc: i0..<pcEnd, function: functionStart..<p, module: (p + 2)..<close)
    }
}
