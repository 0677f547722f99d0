/// What a TLS client asks for in its ClientHello, read before the handshake (RFC 8446 §4.1.2):
/// the server name (SNI) and the ALPN protocols offered. Used to recognise an ACME TLS-ALPN-01
/// validation (RFC 8737: ALPN `acme-tls/1` only) before choosing the TLS context. Pure and bounded:
/// only the first record is read (a ClientHello fits in one), nothing past the bytes given.
enum ClientHelloPeek {
    enum Outcome: Equatable {
        /// Not enough bytes yet.
        case needMore
        /// Not a ClientHello in its first record (or one too large for it): handled as usual.
        case other
        case hello(serverName: String?, protocols: [String])
    }

    /// The most bytes worth waiting for: a record header and the largest record.
    static let maximumBytes = 5 + 16_384

    static func peek(_ bytes: some Collection<UInt8>) -> Outcome {
        let bytes = Array(bytes.prefix(maximumBytes))
        guard bytes.count >= 5 else { return bytes.isEmpty || bytes[0] == 22 ? .needMore : .other }
        guard bytes[0] == 22, bytes[1] == 3 else { return .other }  // handshake record, TLS
        let recordLength = Int(bytes[3]) << 8 | Int(bytes[4])
        guard recordLength >= 4, recordLength <= 16_384 else { return .other }
        guard bytes.count >= 5 + recordLength else { return .needMore }
        var reader = Reader(bytes[5..<(5 + recordLength)])
        guard reader.byte() == 1, let length = reader.integer(3), length <= reader.remaining else { return .other }  // ClientHello within this record
        guard reader.skip(2 + 32), let session = reader.integer(1), reader.skip(session),
              let suites = reader.integer(2), reader.skip(suites), let compression = reader.integer(1), reader.skip(compression) else { return .other }
        guard let extensionsLength = reader.integer(2), var extensions = reader.slice(extensionsLength) else {
            return .hello(serverName: nil, protocols: [])
        }
        var serverName: String?
        var protocols: [String] = []
        while extensions.remaining > 0 {
            guard let type = extensions.integer(2), let length = extensions.integer(2), var body = extensions.slice(length) else { return .other }
            switch type {
            case 0:  // server_name: list of (type, name); host_name is 0
                guard let listLength = body.integer(2), var list = body.slice(listLength) else { return .other }
                while list.remaining > 0 {
                    guard let kind = list.byte(), let nameLength = list.integer(2), let name = list.slice(nameLength) else { return .other }
                    if kind == 0, serverName == nil { serverName = String(decoding: name.bytes, as: UTF8.self).lowercased() }
                }
            case 16:  // application_layer_protocol_negotiation
                guard let listLength = body.integer(2), var list = body.slice(listLength) else { return .other }
                while list.remaining > 0 {
                    guard let nameLength = list.integer(1), let name = list.slice(nameLength) else { return .other }
                    protocols.append(String(decoding: name.bytes, as: UTF8.self))
                }
            default:
                continue
            }
        }
        return .hello(serverName: serverName, protocols: protocols)
    }

    /// Big-endian fields over a slice; every read is checked against what is left.
    private struct Reader {
        private(set) var bytes: ArraySlice<UInt8>
        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
        var remaining: Int { bytes.count }

        mutating func byte() -> UInt8? { integer(1).map(UInt8.init) }

        mutating func integer(_ width: Int) -> Int? {
            guard bytes.count >= width else { return nil }
            var value = 0
            for byte in bytes.prefix(width) { value = value << 8 | Int(byte) }
            bytes = bytes.dropFirst(width)
            return value
        }

        mutating func skip(_ count: Int) -> Bool { slice(count) != nil }

        mutating func slice(_ count: Int) -> Reader? {
            guard count >= 0, bytes.count >= count else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return Reader(bytes.prefix(count))
        }
    }
}
