#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Number formatting that matches C's `printf` (and so Perl's `sprintf` and number printing).
enum NumberFormat {
    private static let powers: [Double] = [1, 10, 100, 1000, 10000]

    /// `sprintf("%.Nf", x)`, exactly as C rounds, appended to `out`.
    static func appendFixed(_ x: Double, digits: Int, to out: inout [UInt8]) {
        guard var integer = roundedFixed(x, digits: digits) else {
            appendPrintf(x, format: "%.\(digits)f", to: &out)
            return
        }
        if x.sign == .minus { out.append(0x2D) }
        let divisor = UInt64(powers[digits])
        let whole = integer / divisor
        integer %= divisor
        appendInteger(whole, to: &out)
        if digits > 0 {
            out.append(ASCII.dot)
            var d = divisor / 10
            while d > 0 {
                out.append(ASCII.zero + UInt8(integer / d % 10))
                d /= 10
            }
        }
    }

    /// `|x|` scaled by 10^digits and rounded as `printf("%.Nf")` rounds it, or nil where this
    /// cannot be decided without printf (within a millionth of a tie, huge or not finite).
    @inline(__always) static func roundedFixed(_ x: Double, digits: Int) -> UInt64? {
        let scaled = abs(x) * powers[digits]
        let frac = abs(scaled - scaled.rounded(.down) - 0.5)
        guard x.isFinite, scaled < 1e15, frac > 1e-6 else { return nil }
        return UInt64(scaled.rounded(.toNearestOrEven))
    }

    /// Perl's default number stringification (`%.15g`), appended to `out`.
    static func appendPerl(_ x: Double, to out: inout [UInt8]) {
        if x == x.rounded(), abs(x) < 1e15 {
            if x < 0 { out.append(0x2D) }
            appendInteger(UInt64(abs(x)), to: &out)
        } else if abs(x) < 1e14, (2 * x) == (2 * x).rounded() {
            // A half (frame text sits half-way down a frame): `%.15g` prints it exactly.
            if x < 0 { out.append(0x2D) }
            appendInteger(UInt64(abs(x).rounded(.down)), to: &out)
            out.append(ASCII.dot)
            out.append(ASCII.zero + 5)
        } else {
            appendPrintf(x, format: "%.15g", to: &out)
        }
    }

    /// Perl's default number stringification as a `String`.
    static func perl(_ x: Double) -> String {
        var out: [UInt8] = []
        appendPerl(x, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `sprintf("%.Nf", x)` as a `String`.
    static func fixed(_ x: Double, digits: Int) -> String {
        var out: [UInt8] = []
        appendFixed(x, digits: digits, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func appendInteger(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(ASCII.zero + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { raw in
            let p = raw.bindMemory(to: UInt8.self)
            while v > 0 {
                p[n] = ASCII.zero + UInt8(v % 10)
                v /= 10
                n += 1
            }
            while n > 0 {
                n -= 1
                out.append(p[n])
            }
        }
    }

    private static func appendPrintf(_ x: Double, format: String, to out: inout [UInt8]) {
        var buffer = [CChar](repeating: 0, count: 512)
        let n = withVaList([x]) { args in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 512, format, args) }
        }
        for i in 0..<Int(max(0, min(n, 511))) { out.append(UInt8(bitPattern: buffer[i])) }
    }

    /// Parses Perl's `\d+(?:\.\d*)?` from ASCII bytes; nil when the bytes are not such a number.
    static func parseCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        var integer: UInt64 = 0
        var digits = 0
        while i < bytes.count, ASCII.isDigit(bytes[i]) {
            if digits < 18 { integer = integer * 10 + UInt64(bytes[i] - ASCII.zero) }
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        if i == bytes.count {
            return digits < 18 ? Double(integer) : Double(String(decoding: bytes, as: UTF8.self))
        }
        guard bytes[i] == ASCII.dot else { return nil }
        var j = i + 1
        while j < bytes.count, ASCII.isDigit(bytes[j]) { j += 1 }
        guard j == bytes.count else { return nil }
        if j == i + 1 { return digits < 18 ? Double(integer) : Double(String(decoding: bytes[0..<i], as: UTF8.self)) }
        return Double(String(decoding: bytes, as: UTF8.self))
    }
}
