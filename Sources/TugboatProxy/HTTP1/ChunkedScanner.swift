/// Follows a chunked body (RFC 9112 §7.1) byte by byte without copying it: it says where the body
/// ends (so the bytes can be relayed as they came) and, for clients that cannot take chunked
/// (HTTP/1.0), where the data is. Chunk sizes are overflow-checked; extension and trailer sizes are
/// bounded; a bare CR is never a line end.
///
/// `strict` (a client's request body): every line ends in CRLF, and whitespace after a chunk's size
/// comes only before an extension's `;` — the grammar and nothing else. The bytes are relayed as
/// they came, so anything read more leniently here than by the backend would frame the body
/// differently there: a bare LF taken as a line end is the "funky chunks" smuggling a backend that
/// wants CRLF reads as something else. Not strict (a backend's response, framed by the backend
/// itself): a bare LF is tolerated as a line end (RFC 9112 §2.2's leniency).
package struct ChunkedScanner {
    package enum Failure: Error, Equatable { case invalidSize, sizeTooLarge, invalidLineEnd, extensionTooLong, trailerTooLarge, invalidTrailer }

    private enum State {
        case sizeStart
        case size
        case sizeWhitespace
        case sizeExtension
        case sizeLineCR
        case data
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLineCR
        case finalCR
        case done
    }

    private var state: State = .sizeStart
    private var size: UInt64 = 0
    private var digits = 0
    private var remaining: UInt64 = 0
    private var extensionBytes = 0
    private var trailerBytes = 0
    let maxExtensionBytes: Int
    let maxTrailerBytes: Int
    let strict: Bool

    package init(maxExtensionBytes: Int = 4096, maxTrailerBytes: Int = 64 * 1024, strict: Bool = false) {
        self.maxExtensionBytes = maxExtensionBytes
        self.maxTrailerBytes = maxTrailerBytes
        self.strict = strict
    }

    package var isDone: Bool { if case .done = state { true } else { false } }

    /// Consumes body bytes from the start of `bytes`, calling `data` with the ranges holding chunk
    /// data. Returns how many bytes belong to the body (all of them unless it ended inside).
    package mutating func scan(_ bytes: UnsafeRawBufferPointer, data: (Range<Int>) -> Void = { _ in }) throws(Failure) -> Int {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            switch state {
            case .done:
                return index
            case .data:
                let take = Int(min(remaining, UInt64(count - index)))
                data(index..<(index + take))
                remaining -= UInt64(take)
                index += take
                if remaining == 0 { state = .dataCR }
                continue
            case .sizeStart, .size:
                if let value = Self.hexValue(byte) {
                    if digits >= 16 || size > (UInt64.max >> 4) { throw .sizeTooLarge }
                    size = size << 4 | UInt64(value)
                    digits += 1
                    state = .size
                } else if case .sizeStart = state {
                    throw .invalidSize
                } else {
                    try endOfSizeDigits(byte)
                }
            case .sizeWhitespace:
                if byte != 0x20 && byte != 0x09 {
                    if strict && byte != 0x3B { throw .invalidSize }
                    try endOfSizeDigits(byte)
                }
            case .sizeExtension:
                if byte == 0x0D {
                    state = .sizeLineCR
                } else if byte == 0x0A {
                    try bareLineFeed()
                    sizeLineEnded()
                } else {
                    extensionBytes += 1
                    if extensionBytes > maxExtensionBytes { throw .extensionTooLong }
                    if !HeadScanner.isValueByte(byte) { throw .invalidLineEnd }
                }
            case .sizeLineCR:
                guard byte == 0x0A else { throw .invalidLineEnd }
                sizeLineEnded()
            case .dataCR:
                if byte == 0x0D {
                    state = .dataLF
                } else if byte == 0x0A {
                    try bareLineFeed()
                    state = .sizeStart
                } else {
                    throw .invalidLineEnd
                }
            case .dataLF:
                guard byte == 0x0A else { throw .invalidLineEnd }
                state = .sizeStart
            case .trailerLineStart:
                if byte == 0x0D {
                    state = .finalCR
                } else if byte == 0x0A {
                    try bareLineFeed()
                    state = .done
                } else {
                    guard byte != 0x20 && byte != 0x09 else { throw .invalidTrailer }
                    try countTrailer()
                    state = .trailerLine
                }
            case .trailerLine:
                try countTrailer()
                if byte == 0x0D {
                    state = .trailerLineCR
                } else if byte == 0x0A {
                    try bareLineFeed()
                    state = .trailerLineStart
                } else if !HeadScanner.isValueByte(byte) {
                    throw .invalidTrailer
                }
            case .trailerLineCR:
                guard byte == 0x0A else { throw .invalidLineEnd }
                state = .trailerLineStart
            case .finalCR:
                guard byte == 0x0A else { throw .invalidLineEnd }
                state = .done
            }
            index += 1
        }
        return index
    }

    private mutating func endOfSizeDigits(_ byte: UInt8) throws(Failure) {
        switch byte {
        case 0x20, 0x09: state = .sizeWhitespace
        case 0x3B:
            extensionBytes = 0
            state = .sizeExtension
        case 0x0D: state = .sizeLineCR
        case 0x0A:
            try bareLineFeed()
            sizeLineEnded()
        default: throw .invalidSize
        }
    }

    /// A line ended by LF alone: an error when strict.
    @inline(__always)
    private func bareLineFeed() throws(Failure) {
        if strict { throw .invalidLineEnd }
    }

    private mutating func sizeLineEnded() {
        if size == 0 {
            trailerBytes = 0
            state = .trailerLineStart
        } else {
            remaining = size
            state = .data
        }
        size = 0
        digits = 0
    }

    private mutating func countTrailer() throws(Failure) {
        trailerBytes += 1
        if trailerBytes > maxTrailerBytes { throw .trailerTooLarge }
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
