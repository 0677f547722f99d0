import NIOCore

/// One value of the Redis serialisation protocol, RESP2 and RESP3.
///
/// Server error replies (`-ERR …` and blob errors `!…`) are `.error`; `RedisClient.send` turns them
/// into a thrown ``RedisError/server(_:)``.
package indirect enum RESPValue: Sendable, Hashable {
    /// One key/value entry of a `.map` or of an attribute.
    package struct Pair: Sendable, Hashable {
        package var key: RESPValue
        package var value: RESPValue
        package init(_ key: RESPValue, _ value: RESPValue) {
            self.key = key
            self.value = value
        }
    }

    /// `+OK`
    case simpleString(String)
    /// `-ERR …` (simple error) or `!…` (blob error).
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$…` binary-safe string; `nil` is RESP2's null bulk string `$-1`.
    case bulkString(ByteBuffer?)
    /// `*…`; `nil` is RESP2's null array `*-1`.
    case array([RESPValue]?)
    /// RESP3 `_`.
    case null
    /// RESP3 `,` (also `inf`, `-inf`, `nan`).
    case double(Double)
    /// RESP3 `#t` / `#f`.
    case boolean(Bool)
    /// RESP3 `(`, kept as its decimal text.
    case bigNumber(String)
    /// RESP3 `=`: a three-letter format (`txt`, `mkd`) and the text.
    case verbatimString(format: String, text: String)
    /// RESP3 `%`, in wire order.
    case map([Pair])
    /// RESP3 `~`.
    case set([RESPValue])
    /// RESP3 `|`: attributes attached to the value that follows them on the wire.
    case attribute([Pair], RESPValue)
    /// RESP3 `>`: out-of-band data (pub/sub messages, tracking invalidations); never a reply.
    case push([RESPValue])
}

extension RESPValue {
    /// Makes a bulk string from text.
    package static func bulk(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// The value without attributes attached to it.
    package var withoutAttributes: RESPValue {
        if case .attribute(_, let value) = self { return value.withoutAttributes }
        return self
    }

    /// Text of a simple, bulk or verbatim string, or a big number; `nil` for other values.
    package var string: String? {
        switch self.withoutAttributes {
        case .simpleString(let text), .bigNumber(let text): return text
        case .bulkString(let buffer?): return String(buffer: buffer)
        case .verbatimString(_, let text): return text
        default: return nil
        }
    }

    /// Bytes of a bulk string (or the UTF-8 of another string type).
    package var bytes: ByteBuffer? {
        if case .bulkString(let buffer?) = self.withoutAttributes { return buffer }
        return self.string.map { ByteBuffer(string: $0) }
    }

    /// An integer reply, or a string/double that holds an integral number.
    package var int: Int? {
        switch self.withoutAttributes {
        case .integer(let value): return Int(exactly: value)
        case .double(let value): return Int(exactly: value)
        case .boolean(let value): return value ? 1 : 0
        default: return self.string.flatMap { Int($0) }
        }
    }

    /// A double reply, or an integer or numeric string.
    package var double: Double? {
        switch self.withoutAttributes {
        case .double(let value): return value
        case .integer(let value): return Double(value)
        default: return self.string.flatMap { Double($0) }
        }
    }

    /// A RESP3 boolean, or an integer 0/1 as RESP2 sends booleans.
    package var bool: Bool? {
        switch self.withoutAttributes {
        case .boolean(let value): return value
        case .integer(0): return false
        case .integer(1): return true
        default: return nil
        }
    }

    /// Elements of an array, set or push; `nil` for a null array and other values.
    package var array: [RESPValue]? {
        switch self.withoutAttributes {
        case .array(let values?), .set(let values), .push(let values): return values
        default: return nil
        }
    }

    /// Entries of a RESP3 map, or of a RESP2 flat array of alternating keys and values.
    package var pairs: [Pair]? {
        switch self.withoutAttributes {
        case .map(let pairs): return pairs
        case .array(let values?) where values.count % 2 == 0:
            return stride(from: 0, to: values.count, by: 2).map { Pair(values[$0], values[$0 + 1]) }
        default: return nil
        }
    }

    /// True for RESP3 null and RESP2's null bulk string and null array.
    package var isNull: Bool {
        switch self.withoutAttributes {
        case .null, .bulkString(nil), .array(nil): return true
        default: return false
        }
    }

    /// The message of an error reply.
    package var errorMessage: String? {
        if case .error(let message) = self.withoutAttributes { return message }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    package var description: String {
        switch self {
        case .simpleString(let text): return "+\(text)"
        case .error(let message): return "-\(message)"
        case .integer(let value): return ":\(value)"
        case .bulkString(nil), .array(nil), .null: return "(nil)"
        case .bulkString(let buffer?): return "\"\(String(buffer: buffer))\""
        case .array(let values?): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .double(let value): return ",\(value)"
        case .boolean(let value): return value ? "#t" : "#f"
        case .bigNumber(let text): return "(\(text)"
        case .verbatimString(let format, let text): return "=\(format):\(text)"
        case .map(let pairs): return "{" + pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .set(let values): return "~[" + values.map(\.description).joined(separator: ", ") + "]"
        case .attribute(let pairs, let value):
            return "|{" + pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "} \(value)"
        case .push(let values): return ">[" + values.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
