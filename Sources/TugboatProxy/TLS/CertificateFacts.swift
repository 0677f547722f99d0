/// What a certificate says about itself that NIOSSL does not expose: its issuer, read from the DER
/// (`TBSCertificate`: version, serial, signature algorithm, then the issuer `Name`). Pure; a
/// malformed certificate gives nil, never a crash.
enum CertificateFacts {
    /// `CN=Pebble Intermediate CA, O=Pebble` — the issuer's organization and common name.
    static func issuer(der: [UInt8]) -> String? {
        var reader = DERReader(bytes: der[...])
        guard var certificate = reader.enter(tag: 0x30), var tbs = certificate.enter(tag: 0x30) else { return nil }
        if tbs.peekTag == 0xA0 { _ = tbs.skip() }  // [0] version
        guard tbs.skip(), tbs.skip(), var name = tbs.enter(tag: 0x30) else { return nil }  // serial, signature
        var parts: [String] = []
        while !name.isAtEnd {
            guard var set = name.enter(tag: 0x31) else { return nil }
            while !set.isAtEnd {
                guard var pair = set.enter(tag: 0x30), let oid = pair.read(tag: 0x06), let value = pair.readAny() else { return nil }
                let label: String? = switch Array(oid) {
                case [0x55, 0x04, 0x03]: "CN"
                case [0x55, 0x04, 0x0A]: "O"
                case [0x55, 0x04, 0x06]: "C"
                default: nil
                }
                if let label { parts.append("\(label)=\(String(decoding: value, as: UTF8.self))") }
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}

/// Just enough DER to walk a certificate: tag, length (short and long forms), value.
struct DERReader {
    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }
    var peekTag: UInt8? { bytes.first }

    /// The next element's tag and value, consuming it.
    mutating func readAny() -> ArraySlice<UInt8>? {
        guard bytes.count >= 2 else { return nil }
        var index = bytes.startIndex + 1
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, bytes.endIndex - index >= count else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard length >= 0, bytes.endIndex - index >= length else { return nil }
        let value = bytes[index..<(index + length)]
        bytes = bytes[(index + length)...]
        return value
    }

    mutating func read(tag: UInt8) -> ArraySlice<UInt8>? {
        guard peekTag == tag else { return nil }
        return readAny()
    }

    mutating func enter(tag: UInt8) -> DERReader? { read(tag: tag).map { DERReader(bytes: $0) } }

    mutating func skip() -> Bool { readAny() != nil }
}
