import Foundation

/// Reads DER (X.690) one element at a time, as the OCSP messages need it: tag, content and the
/// element's whole encoding, each a slice of the input. Only definite lengths of up to four bytes;
/// anything malformed or running past the input is an error, never a read beyond it.
struct DERReader {
    struct Element {
        var tag: UInt8
        var content: ArraySlice<UInt8>
        /// Tag, length and content: what a signature covers.
        var encoded: ArraySlice<UInt8>

        /// A reader over this element's content (a SEQUENCE or an explicit tag).
        var children: DERReader { DERReader(content) }
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static let sequence: UInt8 = 0x30, integer: UInt8 = 0x02, octetString: UInt8 = 0x04, bitString: UInt8 = 0x03
    static let enumerated: UInt8 = 0x0A, objectIdentifier: UInt8 = 0x06, generalizedTime: UInt8 = 0x18, null: UInt8 = 0x05
    /// `[n]` constructed (EXPLICIT, or an IMPLICIT SEQUENCE) and primitive (an IMPLICIT NULL).
    static func contextConstructed(_ n: UInt8) -> UInt8 { 0xA0 | n }
    static func contextPrimitive(_ n: UInt8) -> UInt8 { 0x80 | n }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { bytes.isEmpty }
    var peekTag: UInt8? { bytes.first }

    mutating func next() throws(Malformed) -> Element {
        guard bytes.count >= 2 else { throw Malformed(description: "an element is cut short") }
        let start = bytes.startIndex
        let tag = bytes[start]
        guard tag & 0x1F != 0x1F else { throw Malformed(description: "a multi-byte tag") }
        var index = start + 1
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), bytes.endIndex - index >= count else { throw Malformed(description: "a bad length") }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard length <= bytes.endIndex - index else { throw Malformed(description: "an element runs past its container") }
        let end = index + length
        let element = Element(tag: tag, content: bytes[index..<end], encoded: bytes[start..<end])
        bytes = bytes[end...]
        return element
    }

    /// The next element, which must carry `tag`.
    mutating func next(_ tag: UInt8, _ what: String) throws(Malformed) -> Element {
        let element = try next()
        guard element.tag == tag else { throw Malformed(description: "\(what): expected tag 0x\(String(tag, radix: 16)), found 0x\(String(element.tag, radix: 16))") }
        return element
    }

    /// The next element if it carries `tag`.
    mutating func optional(_ tag: UInt8) throws(Malformed) -> Element? {
        peekTag == tag ? try next() : nil
    }

    /// A GeneralizedTime's content (`YYYYMMDDHHMMSS[.fff]Z`) as a date.
    static func generalizedTime(_ content: ArraySlice<UInt8>) throws(Malformed) -> Date {
        let text = String(decoding: content, as: UTF8.self)
        let digits = Array(text.prefix(14))
        guard text.hasSuffix("Z"), digits.count == 14, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            throw Malformed(description: "a time that is not GeneralizedTime in UTC: \(text.prefix(32))")
        }
        func number(_ from: Int, _ count: Int) -> Int { Int(String(digits[from..<(from + count)]))! }
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        (components.year, components.month, components.day) = (number(0, 4), number(4, 2), number(6, 2))
        (components.hour, components.minute, components.second) = (number(8, 2), number(10, 2), number(12, 2))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { throw Malformed(description: "an impossible date: \(text.prefix(32))") }
        return date
    }

    /// Writes one element: `tag`, its DER length, `content`.
    static func encode(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        if content.count < 0x80 {
            out.append(UInt8(content.count))
        } else {
            var length = content.count
            var lengthBytes: [UInt8] = []
            while length > 0 {
                lengthBytes.insert(UInt8(length & 0xFF), at: 0)
                length >>= 8
            }
            out.append(0x80 | UInt8(lengthBytes.count))
            out += lengthBytes
        }
        return out + content
    }
}
