/// HPACK's Huffman code (RFC 7541 Appendix B). The code is canonical: each symbol's code follows
/// from the code lengths alone (codes of one length are consecutive, in symbol order), so only the
/// 257 lengths are written here and the decoder works from per-length ranges.
enum HPACKHuffman {
    enum Failure: Error, Equatable {
        /// The end-of-string symbol inside a string, padding longer than 7 bits, or padding that is
        /// not the most significant bits of EOS (all ones).
        case invalidCode
    }

    /// Code length in bits of each symbol: bytes 0–255, then EOS (256).
    static let codeLengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ]

    static let eos: UInt16 = 256
    static let shortestCode = 5
    static let longestCode = 30

    /// The canonical decoding tables: for each length, the first code of that length and where its
    /// symbols start in `symbols` (symbols ordered by length, then value).
    struct Tables: Sendable {
        var firstCode = [UInt32](repeating: 0, count: 32)
        var count = [UInt32](repeating: 0, count: 32)
        var offset = [Int](repeating: 0, count: 32)
        var symbols: [UInt16] = []
    }

    static let tables: Tables = {
        var tables = Tables()
        tables.symbols = (0..<UInt16(257)).sorted { (codeLengths[Int($0)], $0) < (codeLengths[Int($1)], $1) }
        var code: UInt32 = 0
        var previousLength = Int(codeLengths[Int(tables.symbols[0])])
        for (position, symbol) in tables.symbols.enumerated() {
            let length = Int(codeLengths[Int(symbol)])
            if position > 0 { code = (code + 1) << UInt32(length - previousLength) }
            if tables.count[length] == 0 {
                tables.firstCode[length] = code
                tables.offset[length] = position
            }
            tables.count[length] += 1
            previousLength = length
        }
        return tables
    }()

    /// The codes of at most ``fastBits`` bits (every letter, digit and the common punctuation),
    /// looked up by the next ``fastBits`` bits at once: entry = symbol | length << 8, or 0 where the
    /// next code is longer (then the per-length search below takes over).
    static let fastBits = 8
    static let fast: [UInt16] = {
        var fast = [UInt16](repeating: 0, count: 1 << fastBits)
        let tables = Self.tables
        for length in shortestCode...fastBits where tables.count[length] > 0 {
            for rank in 0..<Int(tables.count[length]) {
                let symbol = tables.symbols[tables.offset[length] + rank]
                let code = Int(tables.firstCode[length]) + rank
                let first = code << (fastBits - length)
                for index in first..<first + (1 << (fastBits - length)) {
                    fast[index] = symbol | UInt16(length) << 8
                }
            }
        }
        return fast
    }()

    /// Decodes `input` and appends the bytes to `output`.
    static func decode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(Failure) {
        // Lent, not copied (a copy of `tables` retained and released its four arrays each call).
        try fast.withUnsafeBufferPointer { fast throws(Failure) in try decode(input, fast: fast, into: &output) }
    }

    private static func decode(_ input: UnsafeRawBufferPointer, fast: UnsafeBufferPointer<UInt16>, into output: inout [UInt8]) throws(Failure) {
        var window: UInt64 = 0  // unread bits, left-aligned
        var bits = 0
        var index = 0
        output.reserveCapacity(output.count + input.count * 8 / 5)
        while true {
            while bits <= 56 && index < input.count {
                window |= UInt64(input[index]) << UInt64(56 - bits)
                bits += 8
                index += 1
            }
            if bits == 0 { return }
            // A short code: one lookup (bits past the input's end read as zeros, so a code is
            // taken only when all of its bits are there).
            let entry = fast[Int(truncatingIfNeeded: window >> UInt64(64 - fastBits))]
            let fastLength = Int(entry >> 8)
            if entry != 0 && fastLength <= bits {
                output.append(UInt8(truncatingIfNeeded: entry))
                window <<= UInt64(fastLength)
                bits -= fastLength
                continue
            }
            // Otherwise each longer length, shortest first; codes of length L occupy
            // [firstCode, firstCode+count).
            var decoded = false
            var length = entry == 0 ? fastBits + 1 : shortestCode
            while length <= longestCode {
                let code = UInt32(truncatingIfNeeded: window >> UInt64(64 - length))
                let first = Self.tables.firstCode[length]
                if code >= first && code - first < Self.tables.count[length] {
                    guard length <= bits else { break }  // runs into the padding
                    let symbol = Self.tables.symbols[Self.tables.offset[length] + Int(code - first)]
                    guard symbol != eos else { throw .invalidCode }
                    output.append(UInt8(truncatingIfNeeded: symbol))
                    window <<= UInt64(length)
                    bits -= length
                    decoded = true
                    break
                }
                length += 1
            }
            if !decoded {
                // What is left must be padding: fewer than 8 bits, all ones (EOS's prefix).
                guard index == input.count, bits < 8 else { throw .invalidCode }
                let padding = window >> UInt64(64 - bits)
                guard padding == (UInt64(1) << UInt64(bits)) - 1 else { throw .invalidCode }
                return
            }
        }
    }
}
