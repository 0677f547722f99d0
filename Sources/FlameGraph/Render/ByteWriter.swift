/// Appends SVG text to a byte buffer, escaping what must be escaped.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    @inline(__always) mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Text or attribute content with `&`, `<`, `>` and `"` escaped.
    mutating func escaped(_ s: String) { escaped(Array(s.utf8)[...]) }

    mutating func escaped(_ s: ArraySlice<UInt8>) {
        for b in s {
            switch b {
            case 0x26: raw("&amp;")
            case 0x3C: raw("&lt;")
            case 0x3E: raw("&gt;")
            case 0x22: raw("&quot;")
            default: bytes.append(b)
            }
        }
    }

    @inline(__always) mutating func fixed(_ x: Double, _ digits: Int) {
        NumberFormat.appendFixed(x, digits: digits, to: &bytes)
    }

    @inline(__always) mutating func number(_ x: Double) {
        NumberFormat.appendPerl(x, to: &bytes)
    }

    /// An integer count with thousands separators (`1,234,567`), rounded as `%.0f`.
    mutating func count(_ x: Double) {
        // The digits go to the end of `bytes`, then the commas are put in from the back.
        let start = bytes.count
        NumberFormat.appendFixed(x, digits: 0, to: &bytes)
        let first = bytes[start] == 0x2D ? start + 1 : start
        let n = bytes.count - first
        let commas = (n - 1) / 3
        guard commas > 0 else { return }
        bytes.append(contentsOf: repeatElement(0, count: commas))
        var from = first + n - 1, to = bytes.count - 1, copied = 0
        while from >= first {
            if copied > 0 && copied % 3 == 0 {
                bytes[to] = 0x2C
                to -= 1
            }
            bytes[to] = bytes[from]
            to -= 1
            from -= 1
            copied += 1
        }
    }
}
