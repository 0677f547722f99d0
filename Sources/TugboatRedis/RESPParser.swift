import NIOCore

/// Malformed data from the server.
public struct RESPParserError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { "RESP protocol error: \(self.message)" }
}

/// A streaming RESP2/RESP3 parser.
///
/// `parse(_:)` returns a whole value and consumes its bytes, or returns `nil` and consumes nothing
/// when the buffer holds only part of a frame; call it again once more bytes have arrived. A frame
/// may be split anywhere, even inside a `\r\n`.
public struct RESPParser: Sendable {
    /// Deepest nesting of aggregates accepted.
    public var maximumDepth = 64
    /// Largest bulk string accepted (Redis's own limit is 512 MiB).
    public var maximumBulkLength = 512 * 1024 * 1024
    /// Most elements accepted in one aggregate.
    public var maximumAggregateCount = 1 << 24

    public init() {}

    /// Parses one value from the start of `buffer`.
    public func parse(_ buffer: inout ByteBuffer) throws(RESPParserError) -> RESPValue? {
        var copy = buffer
        guard let value = try self.parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    private func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPParserError) -> RESPValue? {
        guard depth <= self.maximumDepth else { throw RESPParserError("nesting deeper than \(self.maximumDepth)") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return try Self.readLine(&buffer).map { .simpleString($0) }
        case UInt8(ascii: "-"):
            return try Self.readLine(&buffer).map { .error($0) }
        case UInt8(ascii: ":"):
            guard let line = try Self.readLine(&buffer) else { return nil }
            guard let value = Int64(line) else { throw RESPParserError("invalid integer '\(line.prefix(40))'") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = try self.readLength(&buffer, allowNull: true) else { return nil }
            if length < 0 { return .bulkString(nil) }
            return try Self.readBlob(&buffer, length: length).map { .bulkString($0) }
        case UInt8(ascii: "!"):
            guard let length = try self.readLength(&buffer, allowNull: false) else { return nil }
            return try Self.readBlob(&buffer, length: length).map { .error(String(buffer: $0)) }
        case UInt8(ascii: "="):
            guard let length = try self.readLength(&buffer, allowNull: false) else { return nil }
            guard let blob = try Self.readBlob(&buffer, length: length) else { return nil }
            guard length >= 4, blob.getInteger(at: blob.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":"),
                let format = blob.getString(at: blob.readerIndex, length: 3),
                let text = blob.getString(at: blob.readerIndex + 4, length: length - 4)
            else { throw RESPParserError("verbatim string without a format prefix") }
            return .verbatimString(format: format, text: text)
        case UInt8(ascii: "_"):
            guard let line = try Self.readLine(&buffer) else { return nil }
            guard line.isEmpty else { throw RESPParserError("null with data") }
            return .null
        case UInt8(ascii: "#"):
            guard let line = try Self.readLine(&buffer) else { return nil }
            switch line {
            case "t": return .boolean(true)
            case "f": return .boolean(false)
            default: throw RESPParserError("invalid boolean '\(line.prefix(40))'")
            }
        case UInt8(ascii: ","):
            guard let line = try Self.readLine(&buffer) else { return nil }
            switch line.lowercased() {
            case "inf", "+inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan", "-nan": return .double(.nan)
            default:
                guard let value = Double(line) else { throw RESPParserError("invalid double '\(line.prefix(40))'") }
                return .double(value)
            }
        case UInt8(ascii: "("):
            guard let line = try Self.readLine(&buffer) else { return nil }
            let digits = line.hasPrefix("-") || line.hasPrefix("+") ? line.dropFirst() : Substring(line)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw RESPParserError("invalid big number '\(line.prefix(40))'")
            }
            return .bigNumber(line)
        case UInt8(ascii: "*"):
            guard let count = try self.readLength(&buffer, allowNull: true) else { return nil }
            if count < 0 { return .array(nil) }
            return try self.readElements(&buffer, count: count, depth: depth).map { .array($0) }
        case UInt8(ascii: "~"):
            guard let count = try self.readLength(&buffer, allowNull: false) else { return nil }
            return try self.readElements(&buffer, count: count, depth: depth).map { .set($0) }
        case UInt8(ascii: ">"):
            guard let count = try self.readLength(&buffer, allowNull: false) else { return nil }
            return try self.readElements(&buffer, count: count, depth: depth).map { .push($0) }
        case UInt8(ascii: "%"):
            guard let count = try self.readLength(&buffer, allowNull: false) else { return nil }
            return try self.readPairs(&buffer, count: count, depth: depth).map { .map($0) }
        case UInt8(ascii: "|"):
            guard let count = try self.readLength(&buffer, allowNull: false) else { return nil }
            guard let pairs = try self.readPairs(&buffer, count: count, depth: depth) else { return nil }
            guard let value = try self.parseValue(&buffer, depth: depth + 1) else { return nil }
            return .attribute(pairs, value)
        default:
            throw RESPParserError("unknown type byte 0x\(String(type, radix: 16))")
        }
    }

    private func readElements(_ buffer: inout ByteBuffer, count: Int, depth: Int) throws(RESPParserError) -> [RESPValue]? {
        var values: [RESPValue] = []
        values.reserveCapacity(min(count, 1024))
        for _ in 0..<count {
            guard let value = try self.parseValue(&buffer, depth: depth + 1) else { return nil }
            values.append(value)
        }
        return values
    }

    private func readPairs(_ buffer: inout ByteBuffer, count: Int, depth: Int) throws(RESPParserError) -> [RESPValue.Pair]? {
        var pairs: [RESPValue.Pair] = []
        pairs.reserveCapacity(min(count, 1024))
        for _ in 0..<count {
            guard let key = try self.parseValue(&buffer, depth: depth + 1),
                let value = try self.parseValue(&buffer, depth: depth + 1)
            else { return nil }
            pairs.append(RESPValue.Pair(key, value))
        }
        return pairs
    }

    private func readLength(_ buffer: inout ByteBuffer, allowNull: Bool) throws(RESPParserError) -> Int? {
        guard let line = try Self.readLine(&buffer) else { return nil }
        guard let length = Int(line), length >= -1 else { throw RESPParserError("invalid length '\(line.prefix(40))'") }
        if length == -1 {
            guard allowNull else { throw RESPParserError("invalid length -1") }
            return -1
        }
        guard length <= max(self.maximumBulkLength, self.maximumAggregateCount) else {
            throw RESPParserError("length \(length) exceeds the limit")
        }
        return length
    }

    /// Reads a line up to `\r\n`; `nil` if the terminator has not arrived yet.
    private static func readLine(_ buffer: inout ByteBuffer) throws(RESPParserError) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.contains(UInt8(ascii: "\n")) { throw RESPParserError("line feed without carriage return") }
            return nil
        }
        let lf = view.index(after: cr)
        guard lf < view.endIndex else { return nil }
        guard view[lf] == UInt8(ascii: "\n") else { throw RESPParserError("carriage return without line feed") }
        let length = cr - view.startIndex
        let line = buffer.readString(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private static func readBlob(_ buffer: inout ByteBuffer, length: Int) throws(RESPParserError) -> ByteBuffer? {
        guard buffer.readableBytes >= length + 2 else { return nil }
        let blob = buffer.readSlice(length: length)!
        guard buffer.readInteger(as: UInt8.self) == UInt8(ascii: "\r"), buffer.readInteger(as: UInt8.self) == UInt8(ascii: "\n") else {
            throw RESPParserError("blob not followed by CRLF")
        }
        return blob
    }
}

/// Turns bytes into `RESPValue`s on a channel.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue
    let parser = RESPParser()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try self.parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}
