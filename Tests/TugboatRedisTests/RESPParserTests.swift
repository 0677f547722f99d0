import NIOCore
import Testing

@testable import TugboatRedis

@Suite("RESP parser and encoder")
struct RESPParserTests {
    /// Wire bytes and the value they decode to, one per RESP type.
    static let samples: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("+\r\n", .simpleString("")),
        ("-ERR unknown command\r\n", .error("ERR unknown command")),
        ("!22\r\nSYNTAX invalid\r\nsyntax\r\n", .error("SYNTAX invalid\r\nsyntax")),
        (":0\r\n", .integer(0)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .bulk("hello")),
        ("$0\r\n\r\n", .bulk("")),
        ("$4\r\na\r\nb\r\n", .bulk("a\r\nb")),
        ("$-1\r\n", .bulkString(nil)),
        ("*-1\r\n", .array(nil)),
        ("*0\r\n", .array([])),
        ("*2\r\n:1\r\n$1\r\nx\r\n", .array([.integer(1), .bulk("x")])),
        ("_\r\n", .null),
        (",3.25\r\n", .double(3.25)),
        (",-1e10\r\n", .double(-1e10)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber("3492890328409238509324850943850943825024385")),
        ("(-12\r\n", .bigNumber("-12")),
        ("=15\r\ntxt:Some string\r\n", .verbatimString(format: "txt", text: "Some string")),
        ("%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#t\r\n", .map([.init(.simpleString("first"), .integer(1)), .init(.bulk("second"), .boolean(true))])),
        ("~3\r\n:1\r\n:2\r\n+three\r\n", .set([.integer(1), .integer(2), .simpleString("three")])),
        (
            "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
            .attribute(
                [.init(.simpleString("key-popularity"), .map([.init(.bulk("a"), .double(0.1923)), .init(.bulk("b"), .double(0.0012))]))],
                .array([.integer(2_039_123), .integer(9_543_892)])
            )
        ),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhi!\r\n", .push([.bulk("message"), .bulk("ch"), .bulk("hi!")])),
        (
            "*3\r\n%1\r\n$1\r\nk\r\n*2\r\n~1\r\n_\r\n>1\r\n#f\r\n$-1\r\n*1\r\n*1\r\n*0\r\n",
            .array([
                .map([.init(.bulk("k"), .array([.set([.null]), .push([.boolean(false)])]))]),
                .bulkString(nil),
                .array([.array([.array([])])]),
            ])
        ),
    ]

    @Test("every type parses", arguments: 0..<samples.count)
    func parsesEveryType(index: Int) throws {
        let (wire, expected) = Self.samples[index]
        var buffer = ByteBuffer(string: wire)
        let value = try RESPParser.parseOne(&buffer)
        #expect(value == expected)
        #expect(buffer.readableBytes == 0)
    }

    @Test("a frame split at every byte parses only once complete; the parser keeps what it consumed")
    func everyPrefixSplit() throws {
        for (wire, expected) in Self.samples {
            let bytes = Array(wire.utf8)
            for split in 0..<bytes.count {
                var parser = RESPParser()
                var buffer = ByteBuffer(bytes: bytes[..<split])
                #expect(try parser.parse(&buffer) == nil, "prefix \(split) of \(wire.debugDescription)")
                buffer.writeBytes(bytes[split...])
                #expect(try parser.parse(&buffer) == expected, "split at \(split) of \(wire.debugDescription)")
                #expect(buffer.readableBytes == 0)
            }
        }
    }

    @Test("a stream of all frames fed one byte at a time yields every value in order")
    func byteByByteStream() throws {
        var parser = RESPParser()
        let stream = Array(Self.samples.map(\.0).joined().utf8)
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in stream {
            buffer.writeInteger(byte)
            while let value = try parser.parse(&buffer) { values.append(value) }
        }
        #expect(values == Self.samples.map(\.1))
        #expect(buffer.readableBytes == 0)
    }

    @Test("NaN parses")
    func nan() throws {
        var buffer = ByteBuffer(string: ",nan\r\n")
        guard case .double(let value) = try RESPParser.parseOne(&buffer) else { Issue.record("not a double"); return }
        #expect(value.isNaN)
    }

    @Test(
        "malformed input is a protocol error",
        arguments: [
            "?x\r\n", ":12a\r\n", ":1\r\r", "$3\r\nabcd\r\n", "$-2\r\n", "~-1\r\n", "#x\r\n", ",1.2.3\r\n", "(12x\r\n",
            "=3\r\ntxt\r\n", "_x\r\n", "+OK\n", "*1\r\n?\r\n",
        ]
    )
    func malformed(wire: String) {
        var buffer = ByteBuffer(string: wire)
        #expect(throws: RESPParserError.self) { try RESPParser.parseOne(&buffer) }
    }

    @Test("nesting deeper than the limit is refused")
    func tooDeep() {
        var parser = RESPParser()
        parser.maximumDepth = 8
        var buffer = ByteBuffer(string: String(repeating: "*1\r\n", count: 20) + ":1\r\n")
        #expect(throws: RESPParserError.self) { try parser.parse(&buffer) }
        var fresh = RESPParser()  // a parser that threw is not used again
        fresh.maximumDepth = 8
        var shallow = ByteBuffer(string: String(repeating: "*1\r\n", count: 8) + ":1\r\n")
        #expect(throws: Never.self) { try fresh.parse(&shallow) }
    }

    @Test("commands encode as arrays of bulk strings")
    func encodesCommands() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(command: ["SET", "k", "héllo", ""], into: &buffer)
        #expect(String(buffer: buffer) == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n$0\r\n\r\n")
    }

    @Test("every value survives encode and parse")
    func roundTrip() throws {
        for (wire, value) in Self.samples {
            var buffer = ByteBuffer()
            value.encode(into: &buffer)
            #expect(try RESPParser.parseOne(&buffer) == value, "\(wire.debugDescription)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("typed accessors")
    func accessors() {
        #expect(RESPValue.bulk("12").int == 12)
        #expect(RESPValue.integer(7).int == 7)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.verbatimString(format: "txt", text: "hi").string == "hi")
        #expect(RESPValue.integer(1).bool == true)
        #expect(RESPValue.bulkString(nil).isNull)
        #expect(RESPValue.array(nil).isNull)
        #expect(RESPValue.null.isNull)
        #expect(!RESPValue.bulk("").isNull)
        #expect(RESPValue.error("ERR x").errorMessage == "ERR x")
        let flat = RESPValue.array([.bulk("a"), .integer(1), .bulk("b"), .integer(2)])
        #expect(flat.pairs == [.init(.bulk("a"), .integer(1)), .init(.bulk("b"), .integer(2))])
        #expect(RESPValue.array([.bulk("a")]).pairs == nil)
        let attributed = RESPValue.attribute([.init(.bulk("ttl"), .integer(3))], .bulk("v"))
        #expect(attributed.string == "v")
        #expect(RESPValue.set([.integer(1)]).array == [.integer(1)])
    }
}
