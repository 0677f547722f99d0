import NIOCore

/// Malformed data from the server, or data beyond one of the parser's limits.
package struct RESPParserError: Error, Sendable, Hashable, CustomStringConvertible {
    package let message: String
    init(_ message: String) { self.message = message }
    package var description: String { "RESP protocol error: \(self.message)" }
}

/// An incremental RESP2/RESP3 parser.
///
/// `parse(_:)` consumes bytes as soon as they form a whole piece (a line, a bulk string) and keeps
/// the partly built value in the parser: a frame arriving in many reads is examined once, not
/// re-parsed from its start on every read. It returns a value once one is complete, else `nil`
/// (call it again, on the same parser, once more bytes have arrived). A frame may be split
/// anywhere, even inside a `\r\n`.
///
/// Everything a server could inflate is capped, and checked as soon as its header is read: a
/// line's length, a bulk string's length, an aggregate's count, the elements and bytes of one
/// frame, the nesting depth. Past a limit, or on malformed input, it throws and the parser must
/// not be used again (the connection is closed).
package struct RESPParser: Sendable {
    /// Deepest nesting of aggregates accepted.
    package var maximumDepth = 64
    /// Longest line (simple string, error, number, header) accepted.
    package var maximumLineLength = 64 * 1024
    /// Largest bulk string (or blob error, verbatim string) accepted.
    package var maximumBulkLength = 32 * 1024 * 1024
    /// Most elements in one aggregate (a map's or attribute's pairs count twice).
    package var maximumAggregateCount = 1 << 20
    /// Most elements in one frame, all its nested aggregates together.
    package var maximumFrameElements = 2 << 20
    /// Most bytes one frame may take on the wire.
    package var maximumFrameBytes = 128 * 1024 * 1024

    /// Bytes looked at so far (line bytes scanned, blobs taken): the parser's work, which tests
    /// check stays linear in the input.
    package private(set) var examinedBytes = 0

    private enum Kind {
        case array, set, push, map, attribute
    }

    /// An aggregate whose elements are still arriving.
    private struct Partial {
        let kind: Kind
        var remaining: Int
        var values: [RESPValue]
    }

    private var stack: [Partial] = []
    /// A blob's header was read (type byte, length); its bytes and CRLF are awaited.
    private var pendingBlob: (type: UInt8, length: Int)?
    /// Bytes of the current line after its type byte already scanned for CRLF.
    private var lineScanned = 0
    private var frameElements = 0
    private var frameBytes = 0

    package init() {}

    /// The next whole value, or `nil` when `buffer` holds no more than part of one (whose bytes
    /// the parser may have consumed).
    package mutating func parse(_ buffer: inout ByteBuffer) throws(RESPParserError) -> RESPValue? {
        while true {
            guard var value = try self.nextPiece(&buffer) else { return nil }
            // Hand the value to the aggregates waiting for it, innermost first.
            while true {
                guard var top = self.stack.popLast() else {
                    self.frameElements = 0
                    self.frameBytes = 0
                    return value
                }
                top.values.append(value)
                top.remaining -= 1
                if top.remaining > 0 {
                    self.stack.append(top)
                    break
                }
                value = Self.finish(top)
            }
        }
    }

    /// A scalar value, or an aggregate that is already complete (empty or null); `nil` when more
    /// bytes are needed. Aggregate headers are pushed on the stack and the loop goes on.
    private mutating func nextPiece(_ buffer: inout ByteBuffer) throws(RESPParserError) -> RESPValue? {
        while true {
            if let blob = self.pendingBlob {
                guard buffer.readableBytes >= blob.length + 2 else { return nil }
                let bytes = buffer.readSlice(length: blob.length)!
                guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw RESPParserError("blob not followed by CRLF") }
                self.pendingBlob = nil
                try self.account(bytes: blob.length + 2)
                return try Self.blobValue(type: blob.type, bytes)
            }
            guard self.stack.count <= self.maximumDepth else { throw RESPParserError("nesting deeper than \(self.maximumDepth)") }
            guard let (type, line) = try self.readLine(&buffer) else { return nil }
            switch type {
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                let length = try Self.length(line, allowNull: type == UInt8(ascii: "$"))
                if length < 0 { return .bulkString(nil) }
                guard length <= self.maximumBulkLength else {
                    throw RESPParserError("a string of \(length) bytes is over the limit of \(self.maximumBulkLength)")
                }
                self.pendingBlob = (type, length)
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                let count = try Self.length(line, allowNull: type == UInt8(ascii: "*"))
                if count < 0 { return .array(nil) }
                let kind = Self.kind(type)
                guard count <= self.maximumAggregateCount else {
                    throw RESPParserError("an aggregate of \(count) elements is over the limit of \(self.maximumAggregateCount)")
                }
                let elements = (kind == .map || kind == .attribute ? 2 * count : count) + (kind == .attribute ? 1 : 0)
                guard elements <= self.maximumAggregateCount + 1 else {
                    throw RESPParserError("an aggregate of \(elements) elements is over the limit of \(self.maximumAggregateCount)")
                }
                self.frameElements += elements
                guard self.frameElements <= self.maximumFrameElements else {
                    throw RESPParserError("a frame of more than \(self.maximumFrameElements) elements")
                }
                if elements == 0 { return Self.finish(Partial(kind: kind, remaining: 0, values: [])) }
                self.stack.append(Partial(kind: kind, remaining: elements, values: Self.reserved(elements)))
            default:
                return try Self.lineValue(type: type, line)
            }
        }
    }

    /// The type byte and the text of a whole line, consumed; `nil` (consuming nothing) while its
    /// CRLF has not arrived. Bytes scanned before are not scanned again.
    private mutating func readLine(_ buffer: inout ByteBuffer) throws(RESPParserError) -> (UInt8, String)? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        if self.lineScanned == 0, !Self.knownTypes.contains(type) {
            throw RESPParserError("unknown type byte 0x\(String(type, radix: 16))")
        }
        let start = 1 + self.lineScanned
        let available = buffer.readableBytes
        // The offset of the first CR or LF from `start`, or `available` when there is none yet.
        let end = buffer.withUnsafeReadableBytes { bytes -> Int in
            var index = start
            while index < available, bytes[index] != UInt8(ascii: "\r"), bytes[index] != UInt8(ascii: "\n") { index += 1 }
            return index
        }
        if end < available, buffer.getInteger(at: buffer.readerIndex + end, as: UInt8.self) == UInt8(ascii: "\n") {
            throw RESPParserError("line feed without carriage return")
        }
        guard end < available else {
            self.examinedBytes += available - start
            self.lineScanned = available - 1
            guard self.lineScanned <= self.maximumLineLength else {
                throw RESPParserError("a line longer than \(self.maximumLineLength) bytes")
            }
            return nil
        }
        let cr = end
        self.examinedBytes += cr - start
        self.lineScanned = cr - 1
        guard cr + 1 < available else { return nil }  // the LF is still to come
        guard buffer.getInteger(at: buffer.readerIndex + cr + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
            throw RESPParserError("carriage return without line feed")
        }
        guard cr - 1 <= self.maximumLineLength else { throw RESPParserError("a line longer than \(self.maximumLineLength) bytes") }
        self.examinedBytes += 2
        buffer.moveReaderIndex(forwardBy: 1)
        let line = buffer.readString(length: cr - 1)!
        buffer.moveReaderIndex(forwardBy: 2)
        self.lineScanned = 0
        try self.account(bytes: cr + 2)
        return (type, line)
    }

    private mutating func account(bytes: Int) throws(RESPParserError) {
        self.frameBytes += bytes
        guard self.frameBytes <= self.maximumFrameBytes else {
            throw RESPParserError("a frame of more than \(self.maximumFrameBytes) bytes")
        }
    }

    private static let knownTypes: Set<UInt8> = Set("+-:$!=_#,(*~>%|".utf8)

    private static func kind(_ type: UInt8) -> Kind {
        switch type {
        case UInt8(ascii: "~"): .set
        case UInt8(ascii: ">"): .push
        case UInt8(ascii: "%"): .map
        case UInt8(ascii: "|"): .attribute
        default: .array
        }
    }

    /// Room for the elements announced, but no more than a few thousand before they arrive.
    private static func reserved(_ count: Int) -> [RESPValue] {
        var values: [RESPValue] = []
        values.reserveCapacity(min(count, 1024))
        return values
    }

    private static func finish(_ partial: Partial) -> RESPValue {
        switch partial.kind {
        case .array: return .array(partial.values)
        case .set: return .set(partial.values)
        case .push: return .push(partial.values)
        case .map: return .map(Self.pairs(partial.values[...]))
        case .attribute: return .attribute(Self.pairs(partial.values.dropLast()), partial.values.last!)
        }
    }

    private static func pairs(_ values: ArraySlice<RESPValue>) -> [RESPValue.Pair] {
        stride(from: values.startIndex, to: values.endIndex, by: 2).map { RESPValue.Pair(values[$0], values[$0 + 1]) }
    }

    private static func length(_ line: String, allowNull: Bool) throws(RESPParserError) -> Int {
        guard let length = Int(line), length >= -1, length != -1 || allowNull else {
            throw RESPParserError("invalid length '\(line.prefix(40))'")
        }
        return length
    }

    private static func blobValue(type: UInt8, _ blob: ByteBuffer) throws(RESPParserError) -> RESPValue {
        switch type {
        case UInt8(ascii: "!"):
            return .error(String(buffer: blob))
        case UInt8(ascii: "="):
            guard blob.readableBytes >= 4, blob.getInteger(at: blob.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":"),
                let format = blob.getString(at: blob.readerIndex, length: 3),
                let text = blob.getString(at: blob.readerIndex + 4, length: blob.readableBytes - 4)
            else { throw RESPParserError("verbatim string without a format prefix") }
            return .verbatimString(format: format, text: text)
        default:
            return .bulkString(blob)
        }
    }

    private static func lineValue(type: UInt8, _ line: String) throws(RESPParserError) -> RESPValue {
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int64(line) else { throw RESPParserError("invalid integer '\(line.prefix(40))'") }
            return .integer(value)
        case UInt8(ascii: "_"):
            guard line.isEmpty else { throw RESPParserError("null with data") }
            return .null
        case UInt8(ascii: "#"):
            switch line {
            case "t": return .boolean(true)
            case "f": return .boolean(false)
            default: throw RESPParserError("invalid boolean '\(line.prefix(40))'")
            }
        case UInt8(ascii: ","):
            switch line.lowercased() {
            case "inf", "+inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan", "-nan": return .double(.nan)
            default:
                guard let value = Double(line) else { throw RESPParserError("invalid double '\(line.prefix(40))'") }
                return .double(value)
            }
        default:  // "(": a big number
            let digits = line.hasPrefix("-") || line.hasPrefix("+") ? line.dropFirst() : Substring(line)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw RESPParserError("invalid big number '\(line.prefix(40))'")
            }
            return .bigNumber(line)
        }
    }
}

/// Turns bytes into `RESPValue`s on a channel, with one ``RESPParser`` for the connection's life.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue
    var parser = RESPParser()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try self.parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}
