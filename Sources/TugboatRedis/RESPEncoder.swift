import NIOCore

extension RESPValue {
    /// Writes the value in RESP wire format (RESP3 types as RESP3).
    package func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .simpleString(let text):
            buffer.writeStaticString("+")
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
        case .error(let message):
            if message.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
                buffer.writeString("!\(message.utf8.count)\r\n\(message)\r\n")
            } else {
                buffer.writeString("-\(message)\r\n")
            }
        case .integer(let value):
            buffer.writeString(":\(value)\r\n")
        case .bulkString(nil):
            buffer.writeStaticString("$-1\r\n")
        case .bulkString(let bytes?):
            buffer.writeString("$\(bytes.readableBytes)\r\n")
            buffer.writeImmutableBuffer(bytes)
            buffer.writeStaticString("\r\n")
        case .array(nil):
            buffer.writeStaticString("*-1\r\n")
        case .array(let values?):
            Self.encodeAggregate("*", values, into: &buffer)
        case .null:
            buffer.writeStaticString("_\r\n")
        case .double(let value):
            if value.isNaN {
                buffer.writeStaticString(",nan\r\n")
            } else if value.isInfinite {
                buffer.writeString(value > 0 ? ",inf\r\n" : ",-inf\r\n")
            } else {
                buffer.writeString(",\(value)\r\n")
            }
        case .boolean(let value):
            buffer.writeString(value ? "#t\r\n" : "#f\r\n")
        case .bigNumber(let text):
            buffer.writeString("(\(text)\r\n")
        case .verbatimString(let format, let text):
            buffer.writeString("=\(format.utf8.count + 1 + text.utf8.count)\r\n\(format):\(text)\r\n")
        case .map(let pairs):
            Self.encodePairs("%", pairs, into: &buffer)
        case .set(let values):
            Self.encodeAggregate("~", values, into: &buffer)
        case .attribute(let pairs, let value):
            Self.encodePairs("|", pairs, into: &buffer)
            value.encode(into: &buffer)
        case .push(let values):
            Self.encodeAggregate(">", values, into: &buffer)
        }
    }

    private static func encodeAggregate(_ type: String, _ values: [RESPValue], into buffer: inout ByteBuffer) {
        buffer.writeString("\(type)\(values.count)\r\n")
        for value in values { value.encode(into: &buffer) }
    }

    private static func encodePairs(_ type: String, _ pairs: [Pair], into buffer: inout ByteBuffer) {
        buffer.writeString("\(type)\(pairs.count)\r\n")
        for pair in pairs {
            pair.key.encode(into: &buffer)
            pair.value.encode(into: &buffer)
        }
    }
}

/// Encodes commands the way clients send them: an array of bulk strings.
package enum RESPEncoder {
    /// Appends `command` (name and arguments) to `buffer`.
    package static func encode(command: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(command.count)\r\n")
        for argument in command {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }
}
