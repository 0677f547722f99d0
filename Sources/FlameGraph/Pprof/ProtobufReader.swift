/// A minimal reader of the protocol buffers wire format: varints and length-delimited fields,
/// enough for pprof's profile.proto.
struct ProtobufReader {
    enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int
    private let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>? = nil) {
        self.bytes = bytes
        self.position = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    var isAtEnd: Bool { position >= end }

    /// The next field's number and wire type.
    mutating func nextField() throws -> (number: UInt64, type: WireType) {
        let key = try varint()
        guard let type = WireType(rawValue: key & 7) else { throw PprofError("unsupported wire type \(key & 7)") }
        return (key >> 3, type)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw PprofError("truncated varint") }
            let byte = bytes[position]
            position += 1
            if shift < 64 { result |= UInt64(byte & 0x7F) << shift }
            if byte & 0x80 == 0 { return result }
            shift += 7
            guard shift < 70 else { throw PprofError("varint too long") }
        }
    }

    /// The range of a length-delimited field's payload (the reader moves past it).
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = Int(clamping: try varint())
        guard length <= end - position else { throw PprofError("truncated field") }
        let range = position..<(position + length)
        position += length
        return range
    }

    mutating func skip(_ type: WireType) throws {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    private mutating func advance(_ n: Int) throws {
        guard n <= end - position else { throw PprofError("truncated field") }
        position += n
    }

    /// A repeated integer field, packed or not, appended to `values`.
    mutating func integers(_ type: WireType, into values: inout [UInt64]) throws {
        if type == .lengthDelimited {
            var packed = ProtobufReader(bytes, range: try lengthDelimited())
            while !packed.isAtEnd { values.append(try packed.varint()) }
        } else if type == .varint {
            values.append(try varint())
        } else {
            try skip(type)
        }
    }

    func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[range])
    }
}

/// An error decoding a pprof profile.
public struct PprofError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = "pprof: " + description }
}
