import NIOCore
import Testing

@testable import TugboatRedis

/// Issue 15: what a hostile or broken server can make the decoder do. Every count is capped, the
/// bytes held for one unfinished frame are capped, and a frame arriving a byte at a time is
/// examined once (no re-parse from its start on every read).
@Suite("RESP parser limits")
struct RESPLimitsTests {
    /// Feeds `wire` one byte at a time; the values and the bytes the parser examined.
    static func byteByByte(_ wire: [UInt8], parser: inout RESPParser) throws -> [RESPValue] {
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in wire {
            buffer.writeInteger(byte)
            while let value = try parser.parse(&buffer) { values.append(value) }
            buffer.discardReadBytes()
        }
        return values
    }

    @Test("a frame arriving one byte at a time is examined in linear work")
    func linearWork() throws {
        let elements = 4000
        var wire = Array("*\(elements + 2)\r\n".utf8)
        for index in 0..<elements { wire += Array(":\(index)\r\n".utf8) }
        wire += Array("$3000\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "b"), count: 3000) + Array("\r\n".utf8)
        wire += Array("+".utf8) + [UInt8](repeating: UInt8(ascii: "s"), count: 3000) + Array("\r\n".utf8)
        var parser = RESPParser()
        let values = try Self.byteByByte(wire, parser: &parser)
        #expect(values.count == 1)
        #expect(values.first?.array?.count == elements + 2)
        #expect(values.first?.array?[17] == .integer(17))
        #expect(parser.examinedBytes <= 3 * wire.count, "examined \(parser.examinedBytes) bytes for a frame of \(wire.count)")
    }

    @Test(
        "a count above its limit is refused as soon as its header is read",
        arguments: [
            "*536870912\r\n",  // 512 M elements: below the old max(bulk, aggregate) limit
            "%300000000\r\n", "~20000000\r\n", ">20000000\r\n", "|20000000\r\n",
            "$100000000\r\n",  // 100 MB bulk string
            "!100000000\r\n", "=100000000\r\n",
        ]
    )
    func hugeCounts(header: String) {
        var buffer = ByteBuffer(string: header)
        #expect(throws: RESPParserError.self) { try RESPParser.parseOne(&buffer) }
    }

    @Test("a line that never ends is refused at the line limit, not buffered without end")
    func endlessLine() {
        for type in ["+", "-", ":", ",", "(", "*", "$"] {
            var parser = RESPParser()
            var buffer = ByteBuffer(string: type)
            var refused = false
            for _ in 0..<1000 {
                buffer.writeRepeatingByte(UInt8(ascii: "7"), count: 1024)
                do {
                    _ = try parser.parse(&buffer)
                } catch {
                    refused = true
                    break
                }
            }
            #expect(refused, "a '\(type)' line of 1 MB was still being buffered")
        }
    }

    @Test("the elements of one frame are capped in total, however they are nested")
    func nestedTotal() {
        var parser = RESPParser()
        parser.maximumAggregateCount = 100
        parser.maximumFrameElements = 1000
        // 20 arrays of 100 integers: each within the per-aggregate limit, 2020 elements in all.
        var wire = "*20\r\n"
        for _ in 0..<20 { wire += "*100\r\n" + String(repeating: ":1\r\n", count: 100) }
        var buffer = ByteBuffer(string: wire)
        #expect(throws: RESPParserError.self) { try parser.parse(&buffer) }
        var small = RESPParser()
        small.maximumAggregateCount = 100
        var fits = ByteBuffer(string: "*2\r\n*100\r\n" + String(repeating: ":1\r\n", count: 100) + "*0\r\n")
        #expect((try? small.parse(&fits))?.array?.count == 2)
    }

    @Test("a bulk string within the limit arriving slowly is held, then returned")
    func slowBulkWithinLimit() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "$100000\r\n")
        #expect(try parser.parse(&buffer) == nil)
        for _ in 0..<100 {
            buffer.writeRepeatingByte(UInt8(ascii: "z"), count: 1000)
            #expect(try parser.parse(&buffer) == nil)
        }
        buffer.writeString("\r\n+OK\r\n")
        #expect(try parser.parse(&buffer)?.bytes?.readableBytes == 100_000)
        #expect(try parser.parse(&buffer) == .simpleString("OK"))
    }
}
