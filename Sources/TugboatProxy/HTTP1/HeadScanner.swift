#if canImport(Glibc)
import Glibc
#endif

/// One header line of a parsed head, as offsets into the head's bytes (nothing copied).
package struct HeaderField {
    package var lineStart: Int32
    /// The colon.
    package var nameEnd: Int32
    /// The value without its surrounding whitespace.
    package var valueStart: Int32
    package var valueEnd: Int32
    /// Just past the line's LF.
    package var lineEnd: Int32
    var kind: HeaderKind

    var valueRange: Range<Int> { Int(valueStart)..<Int(valueEnd) }
}

/// The syntax shared by request and response heads (RFC 9112 §2, §5), strict where smuggling
/// lives: no obs-fold, no whitespace before the colon, no bare CR, no NUL or other control bytes
/// in values; a bare LF is tolerated only as a line end.
package enum HeadScanner {
    /// Length of the head (through its empty line) at the start of `bytes`, or nil while incomplete.
    /// `from` is where the previous call stopped, so a trickled head is scanned once overall.
    package static func headLength(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        var index = max(0, from - 3)
        while index < bytes.count {
            guard let found = memchr(base + index, 0x0A, bytes.count - index) else { return nil }
            let lf = base.distance(to: UnsafeRawPointer(found))
            // An empty line: LF right after the previous LF, or after the previous LF and a CR.
            if lf >= 1 && bytes[lf - 1] == 0x0A { return lf + 1 }
            if lf >= 2 && bytes[lf - 1] == 0x0D && bytes[lf - 2] == 0x0A { return lf + 1 }
            index = lf + 1
        }
        return nil
    }

    /// Where the line starting at `start` ends: (content end, index after the LF).
    /// A CR is allowed only right before the LF.
    @inline(__always)
    static func line(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(HeadError) -> (end: Int, next: Int) {
        let base = bytes.baseAddress!
        guard let found = memchr(base + start, 0x0A, bytes.count - start) else {
            throw .malformed("unterminated line")
        }
        let lf = base.distance(to: UnsafeRawPointer(found))
        let end = lf > start && bytes[lf - 1] == 0x0D ? lf - 1 : lf
        return (end, lf + 1)
    }

    /// Parses the header lines from `start` to the end of the head (its empty line included).
    static func headers(_ bytes: UnsafeRawBufferPointer, from start: Int, limits: HeadLimits,
                        into fields: inout [HeaderField]) throws(HeadError) {
        // Offsets are kept as Int32: one check here, none per field.
        guard bytes.count <= Int(Int32.max) else { throw HeadError(kind: .headTooLarge, reason: "a head above 2 GiB") }
        var position = start
        while true {
            let (end, next) = try line(bytes, from: position)
            if end == position { return }  // the empty line
            guard fields.count < limits.maxHeaderCount else {
                throw HeadError(kind: .headTooLarge, reason: "more than \(limits.maxHeaderCount) header fields")
            }
            fields.append(try field(bytes, start: position, end: end, next: next))
            position = next
        }
    }

    @inline(__always)
    private static func field(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int, next: Int) throws(HeadError) -> HeaderField {
        let first = bytes[start]
        if first == 0x20 || first == 0x09 { throw .malformed("obsolete line folding") }
        var colon = start
        while colon < end, isTokenByte(bytes[colon]) { colon += 1 }
        guard colon < end, bytes[colon] == 0x3A else {
            if colon < end && (bytes[colon] == 0x20 || bytes[colon] == 0x09) {
                throw .malformed("whitespace before the colon of a header field")
            }
            throw .malformed(colon == end ? "header line without a colon" : "invalid byte in a header name")
        }
        guard colon > start else { throw .malformed("empty header name") }
        var valueStart = colon + 1
        while valueStart < end, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
        var valueEnd = end
        while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        if let index = firstInvalidValueByte(bytes, from: valueStart, to: valueEnd) {
            throw .malformed(bytes[index] == 0x0D ? "bare CR in a header value" : "control byte in a header value")
        }
        let kind = HeaderKind(name: UnsafeRawBufferPointer(rebasing: bytes[start..<colon]))
        return HeaderField(lineStart: Int32(truncatingIfNeeded: start), nameEnd: Int32(truncatingIfNeeded: colon),
                           valueStart: Int32(truncatingIfNeeded: valueStart), valueEnd: Int32(truncatingIfNeeded: valueEnd),
                           lineEnd: Int32(truncatingIfNeeded: next), kind: kind)
    }

    /// RFC 9110 tchar, as two 64-bit masks (no table, no lazy global on the hot path).
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return (tokenMaskLow >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (tokenMaskHigh >> UInt64(byte - 64)) & 1 == 1 }
        return false
    }

    /// The first byte in `start..<end` that may not be in a field value (a control byte other than
    /// HTAB, or DEL), or nil. Eight bytes at a time: a word with no byte below 0x20 and none equal
    /// to 0x7F is passed at once (exact bit tricks: they never miss such a byte); a word with one is
    /// checked byte by byte (a HTAB is allowed). Values are most of a head's bytes. The last bytes
    /// (fewer than eight) are one more word too: the value's last eight bytes when it has eight, or
    /// eight bytes read past its end with those past it made 0xFF (never flagged, and a borrow only
    /// runs upwards, from a byte that is flagged anyway) when the buffer holds them — a line always
    /// has its CRLF after the value, and the head its empty line.
    @inline(__always)
    static func firstInvalidValueByte(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while end - index >= 8 {
            // A flagged word may hold only HTABs: then the scan goes on.
            if hasInvalidValueByte(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)),
               let found = firstInvalidValueByteOneByOne(bytes, from: index, to: index + 8) {
                return found
            }
            index += 8
        }
        let tail = end - index
        guard tail > 0 else { return nil }
        let word: UInt64
        if end - start >= 8 {
            word = bytes.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self)
        } else if index + 8 <= bytes.count {
            word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) | (~0 << UInt64(tail * 8))
        } else {
            return firstInvalidValueByteOneByOne(bytes, from: index, to: end)
        }
        return hasInvalidValueByte(word) ? firstInvalidValueByteOneByOne(bytes, from: index, to: end) : nil
    }

    /// Some byte of the (little-endian) word is below 0x20 or is 0x7F (a HTAB counts: the caller
    /// looks closer).
    @inline(__always)
    private static func hasInvalidValueByte(_ word: UInt64) -> Bool {
        let word = UInt64(littleEndian: word)
        let high: UInt64 = 0x8080_8080_8080_8080
        let belowSpace = (word &- 0x2020_2020_2020_2020) & ~word & high
        let del = word ^ 0x7F7F_7F7F_7F7F_7F7F
        let isDel = (del &- 0x0101_0101_0101_0101) & ~del & high
        return belowSpace | isDel != 0
    }

    @inline(__always)
    private static func firstInvalidValueByteOneByOne(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        for index in start..<end where !isValueByte(bytes[index]) { return index }
        return nil
    }

    /// `bytes[index...]` starts with "HTTP/": one four-byte load and a compare, not a generic
    /// walk over a string's UTF-8 view (which showed in profiles of the request path).
    @inline(__always)
    static func startsWithHTTPSlash(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Bool {
        guard bytes.count >= index + 5 else { return false }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self)) == 0x5054_5448  // "HTTP"
            && bytes[index + 4] == 0x2F
    }

    /// field-vchar / SP / HTAB (obs-text allowed).
    @inline(__always)
    static func isValueByte(_ byte: UInt8) -> Bool { byte >= 0x20 ? byte != 0x7F : byte == 0x09 }

    /// Bytes 0-63 that are tchar: ! # $ % & ' * + - . 0-9.
    static let tokenMaskLow: UInt64 = 0x03FF_6CFA_0000_0000
    /// Bytes 64-127 that are tchar: A-Z ^ _ ` a-z | ~.
    static let tokenMaskHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// Calls `body` with each comma-separated element of a list value, trimmed, skipping empty ones.
    @inline(__always)
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>,
                                   _ body: (Range<Int>) throws(HeadError) -> Void) throws(HeadError) {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound, bytes[end] != 0x2C { end += 1 }
            var lower = start, upper = end
            while lower < upper, bytes[lower] == 0x20 || bytes[lower] == 0x09 { lower += 1 }
            while upper > lower, bytes[upper - 1] == 0x20 || bytes[upper - 1] == 0x09 { upper -= 1 }
            if lower < upper { try body(lower..<upper) }
            start = end + 1
        }
    }

    /// A Content-Length value: digits only, no sign, no list, no overflow.
    static func contentLength(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let digit = bytes[index] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Whether the bytes in `range` equal a lowercase literal, ignoring ASCII case.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        UnsafeRawBufferPointer(rebasing: bytes[range]).equalsLowercaseToken(literal)
    }

    /// Whether two ranges of the same bytes are equal, ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ first: Range<Int>, _ second: Range<Int>) -> Bool {
        first.count == second.count && zip(bytes[first], bytes[second]).allSatisfy { asciiLower($0) == asciiLower($1) }
    }
}

extension UnsafeRawBufferPointer {
    /// Case-insensitive comparison for tokens (which may hold any tchar, so fold letters only).
    @inline(__always)
    func equalsLowercaseToken(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for index in 0..<count {
            let byte = self[index]
            let folded = byte &- 0x41 < 26 ? byte | 0x20 : byte
            if folded != other[index] { return false }
        }
        return true
    }
}
