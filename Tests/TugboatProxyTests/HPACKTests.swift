import NIOCore
import NIOHPACK
import Testing
@testable import TugboatProxy

/// Tugboat's own HPACK (RFC 7541): the decoder against the RFC's examples and, on random header
/// lists, against swift-nio-http2's encoder; the encoder against swift-nio-http2's decoder; and
/// every way a hostile block can break the rules or the memory bound.
@Suite("HPACK")
struct HPACKTests {
    func bytes(_ hex: String) -> ByteBuffer {
        let digits = Array(hex.filter { !$0.isWhitespace })
        var out = ByteBuffer()
        for pair in stride(from: 0, to: digits.count, by: 2) { out.writeInteger(UInt8(String(digits[pair...pair + 1]), radix: 16)!) }
        return out
    }

    func decoded(_ list: HeaderFieldList) -> [String] {
        (0..<list.count).map { String(decoding: list.name($0), as: UTF8.self) + ": " + String(decoding: list.value($0), as: UTF8.self) }
    }

    @Test("RFC 7541 C.3 and C.4: three requests sharing the dynamic table, raw and Huffman-coded")
    func rfcExamples() throws {
        let first = [":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com"]
        let second = first + ["cache-control: no-cache"]
        let third = [":method: GET", ":scheme: https", ":path: /index.html", ":authority: www.example.com", "custom-key: custom-value"]
        let raw = ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                   "8286 84be 5808 6e6f 2d63 6163 6865",
                   "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]
        let huffman = ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                       "8286 84be 5886 a8eb 1064 9cbf",
                       "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]
        for blocks in [raw, huffman] {
            var decoder = HeaderBlockDecoder()
            var list = HeaderFieldList()
            for (block, (expected, tableSize)) in zip(blocks, [(first, 57), (second, 110), (third, 164)]) {
                try decoder.decode(bytes(block), maxListSize: 65536, into: &list)
                #expect(decoded(list) == expected)
                #expect(decoder.dynamicTableSize == tableSize)
            }
        }
    }

    @Test("random header lists encoded by swift-nio-http2 (Huffman, indexing, evictions) decode the same, block after block")
    func differentialAgainstNIOEncoder() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: Bool.random(using: &generator))
            var decoder = HeaderBlockDecoder()
            var list = HeaderFieldList()
            for _ in 0..<30 {
                var headers = HPACKHeaders()
                for _ in 0..<Int.random(in: 0...12, using: &generator) {
                    let name = ["content-type", "x-custom", "cookie", "accept", ":path", "x-" + String(UInt32.random(in: 0...999, using: &generator))].randomElement(using: &generator)!
                    let value = randomText(Int.random(in: 0...300, using: &generator), &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: headers.add(name: name, value: value, indexing: .indexable)
                    case 1: headers.add(name: name, value: value, indexing: .nonIndexable)
                    default: headers.add(name: name, value: value, indexing: .neverIndexed)
                    }
                }
                var block = ByteBuffer()
                try encoder.encode(headers: headers, to: &block)
                try decoder.decode(block, maxListSize: 1 << 20, into: &list)
                #expect(decoded(list) == headers.map { "\($0.name): \($0.value)" })
            }
        }
    }

    func randomText(_ count: Int, _ generator: inout SystemRandomNumberGenerator) -> String {
        // Printable ASCII and some UTF-8: every Huffman code length gets used.
        String((0..<count).map { _ in Bool.random(using: &generator) ? Character(UnicodeScalar(UInt8.random(in: 0x20...0x7E, using: &generator))) : "é" })
    }

    @Test("the encoder's blocks decode in swift-nio-http2: :status indexed or literal, names lower-cased, set-cookie never indexed")
    func encoderAgainstNIODecoder() throws {
        for status in [200, 204, 301, 404, 503] {
            var block = ByteBuffer()
            HeaderBlockEncoder.writeStatus(status, into: &block)
            let fields = [("Content-Type", "text/plain", false), ("X-Request-Id", "abc", false), ("Set-Cookie", "a=1", true),
                          ("SERVER", "", false), ("x-long", String(repeating: "v", count: 300), false)]
            for (name, value, neverIndexed) in fields {
                Array(name.utf8).withUnsafeBytes { name in
                    Array(value.utf8).withUnsafeBytes { value in
                        HeaderBlockEncoder.writeField(name: name, value: value, neverIndexed: neverIndexed, into: &block)
                    }
                }
            }
            var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
            let headers = try decoder.decodeHeaders(from: &block)
            #expect(headers.map { "\($0.name): \($0.value)" } == [":status: \(status)", "content-type: text/plain", "x-request-id: abc", "set-cookie: a=1", "server: ", "x-long: " + String(repeating: "v", count: 300)])
            #expect(Array(headers.map(\.indexable).dropFirst()) == [.nonIndexable, .nonIndexable, .neverIndexed, .nonIndexable, .nonIndexable])
        }
    }

    @Test("a response head's block, written at once into room bounded by the head's size, decodes to its fields: tiny fields, long names, any case")
    func responseBlocksAtTheirBound() throws {
        var generator = SystemRandomNumberGenerator()
        let known = ["Content-Type", "date", "ETAG", "Set-Cookie", "server", "Vary", "x-a"]
        for round in 0..<300 {
            let count = round == 0 ? 127 : Int.random(in: 0...127, using: &generator)  // with Content-Length: the most a head may have
            var lines: [(String, String)] = []
            for _ in 0..<count {
                let name: String
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: name = known.randomElement(using: &generator)!
                case 1: name = "x" + String(repeating: "Ab", count: Int.random(in: 0...140, using: &generator))  // a length needing two bytes
                default: name = String(UnicodeScalar(UInt8.random(in: 0x61...0x7A, using: &generator)))  // one byte, the most overhead
                }
                let value = round == 0 ? "" : String(repeating: "v", count: Int.random(in: 0...200, using: &generator))
                lines.append((name, value))
            }
            let status = [200, 201, 404, 503].randomElement(using: &generator)!
            let text = "HTTP/1.1 \(status) X\r\n" + lines.map { "\($0.0): \($0.1)\r\n" }.joined() + "Content-Length: 0\r\n\r\n"
            let bytes = Array(text.utf8)
            var block = try bytes.withUnsafeBytes { raw in
                let head = try ResponseHead.parse(raw, requestMethod: .get, limits: HeadLimits())
                return HTTP2ResponseReader.headerBlock(of: head, bytes: raw, capacity: 0)
            }
            var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 4096, maxHeaderListSize: 1 << 24)
            let headers = try decoder.decodeHeaders(from: &block)
            let expected = [":status: \(status)"] + lines.map { "\($0.0.lowercased()): \($0.1)" } + ["content-length: 0"]
            #expect(headers.map { "\($0.name): \($0.value)" } == expected, "round \(round)")
        }
    }

    @Test("every regular name of the static table is found, in any case, at its first index; others are not")
    func staticNames() {
        for (offset, entry) in HPACKStaticTable.entries.enumerated() where entry.name.first != UInt8(ascii: ":") {
            let first = HPACKStaticTable.entries.firstIndex { $0.name == entry.name }! + 1
            let upper = entry.name.map { $0 &- 0x61 < 26 ? $0 - 0x20 : $0 }
            #expect(upper.withUnsafeBytes { HPACKStaticTable.index(ofName: $0) } == first, "\(offset + 1)")
        }
        for other in ["x-request-id", "contenttype", "", "dates", "content\rlength", "Content-Lengtj", "access-control-allow-origiN!"] {
            #expect(Array(other.utf8).withUnsafeBytes { HPACKStaticTable.index(ofName: $0) } == nil, "\(other)")
        }
        #expect(Array("cOnTeNt-LeNgTh".utf8).withUnsafeBytes { HPACKStaticTable.index(ofName: $0) } == 28)
        // The word-wide case folding agrees with the byte one for every byte value in every position.
        for byte in 0...255 {
            for position in 0..<8 {
                var bytes = Array("AbCdEfGh".utf8)
                bytes[position] = UInt8(byte)
                let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                let folded = withUnsafeBytes(of: HPACKStaticTable.lowercased(word).littleEndian) { Array($0) }
                #expect(folded == bytes.map(HPACKStaticTable.lowercased), "byte \(byte) at \(position)")
            }
        }
    }

    @Test("an HPACK bomb (one large entry named again and again) stops at the list limit, not at its decoded size")
    func bomb() throws {
        var block = ByteBuffer()
        // Literal with incremental indexing, new name "x", a 4000-byte value (length 127 + 3873:
        // 0x7F, then 3873 in 7-bit groups, low first: 0xA1 0x1E); then index 62 x 1000.
        block.writeBytes([0x40, 0x01, UInt8(ascii: "x"), 0x7F, 0xA1, 0x1E])
        block.writeRepeatingByte(UInt8(ascii: "a"), count: 4000)
        for _ in 0..<1000 { block.writeInteger(UInt8(0x80 | 62)) }
        var decoder = HeaderBlockDecoder()
        var list = HeaderFieldList()
        #expect(throws: HeaderBlockDecoder.Failure.listTooLarge) { try decoder.decode(block, maxListSize: 65536, into: &list) }
        #expect(list.byteCount <= 65536)
    }

    @Test("malformed blocks are refused: bad indices, truncation, overflow, Huffman EOS and padding, table size updates")
    func malformed() {
        let cases: [(String, String)] = [
            ("80", "index 0"),
            ("be", "index 62 with an empty dynamic table"),
            ("ff", "a truncated integer"),
            ("ff ff ff ff ff ff ff 0f", "an integer above 2^28"),
            ("40 ff ff ff 80 80 80 80 80 80 80 81 80 82", "an integer whose continuation shifts past 63 bits, once wrapped negative (found by fuzz/run.sh)"),
            ("40 05 61", "a name shorter than its length"),
            ("00 01 61 85 61", "a value shorter than its length"),
            ("00 01 61 84 ff ff ff ff", "Huffman: EOS inside the string"),
            ("00 01 61 82 1f ff", "Huffman: padding of more than 7 bits"),
            ("00 01 61 81 00", "Huffman: padding that is not all ones ('0' then zero bits)"),
            ("3f e2 1f", "a table size update above SETTINGS_HEADER_TABLE_SIZE (4096)"),
            ("82 20", "a table size update after a field"),
        ]
        for (hex, what) in cases {
            var decoder = HeaderBlockDecoder()
            var list = HeaderFieldList()
            #expect(throws: HeaderBlockDecoder.Failure.self, "\(what)") { try decoder.decode(bytes(hex), maxListSize: 65536, into: &list) }
        }
    }

    @Test("a table size update at the start of a block shrinks the table; one to zero empties it")
    func tableSizeUpdate() throws {
        var decoder = HeaderBlockDecoder()
        var list = HeaderFieldList()
        try decoder.decode(bytes("4001 6101 62"), maxListSize: 65536, into: &list)  // "a: b", indexed
        #expect(decoder.dynamicTableCount == 1)
        try decoder.decode(bytes("be"), maxListSize: 65536, into: &list)  // index 62
        #expect(decoded(list) == ["a: b"])
        #expect(throws: HeaderBlockDecoder.Failure.self) { try decoder.decode(bytes("20 be"), maxListSize: 65536, into: &list) }
        #expect(decoder.dynamicTableCount == 0)
    }

    @Test("Huffman: every byte value text holds round-trips through swift-nio-http2's encoder; random bytes never crash the decoder")
    func huffman() throws {
        var generator = SystemRandomNumberGenerator()
        var all = HPACKHeaders()
        // Every byte value that UTF-8 text can hold (all but C0, C1 and F5–FF; NUL left out):
        // U+0001…U+07FF and characters led by each of E0–EF and F0–F4.
        var scalars = (1...0x7FF).compactMap { Unicode.Scalar(UInt32($0)) }
        scalars += (0...0xF).compactMap { Unicode.Scalar(UInt32(max(0x800, $0 * 0x1000))) }
        scalars += [0x10000, 0x40000, 0x80000, 0xC0000, 0x100000].compactMap { Unicode.Scalar(UInt32($0)) }
        let value = String(String.UnicodeScalarView(scalars))
        #expect(Set(value.utf8).count == 256 - 13 - 1)
        all.add(name: "x", value: value, indexing: .nonIndexable)
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: true)
        var block = ByteBuffer()
        try encoder.encode(headers: all, to: &block)
        var decoder = HeaderBlockDecoder()
        var list = HeaderFieldList()
        try decoder.decode(block, maxListSize: 65536, into: &list)
        #expect(String(decoding: list.value(0), as: UTF8.self) == all.first!.value)
        for _ in 0..<2000 {
            let random = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var output: [UInt8] = []
            _ = random.withUnsafeBytes { try? HPACKHuffman.decode($0, into: &output) }
            #expect(output.count <= random.count * 8 / 5)
        }
    }
}
