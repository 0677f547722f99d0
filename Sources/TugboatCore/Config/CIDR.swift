#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `::1/128`; a bare address is a /32 or /128), as in
/// `trusted-proxies`.
package struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes, host bits cleared.
    package let network: [UInt8]
    package let prefixLength: Int

    package init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = CIDR.addressBytes(String(parts[0])) else { return nil }
        let bits = address.count * 8
        let length: Int
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...bits).contains(value), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = value
        } else {
            length = bits
        }
        prefixLength = length
        network = CIDR.masked(address, prefixLength: length)
    }

    /// Whether `address` (4 or 16 bytes; an IPv4-mapped IPv6 address counts as IPv4) is inside.
    package func contains(_ address: [UInt8]) -> Bool {
        var address = address
        if address.count == 16 && network.count == 4 && address[0..<10].allSatisfy({ $0 == 0 })
            && address[10] == 0xFF && address[11] == 0xFF {
            address = Array(address[12...])
        }
        guard address.count == network.count else { return false }
        return CIDR.masked(address, prefixLength: prefixLength) == network
    }

    package var description: String {
        var text = [CChar](repeating: 0, count: 64)
        let family = network.count == 4 ? AF_INET : AF_INET6
        _ = network.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
    }

    /// The bytes of a literal IPv4 or IPv6 address, or nil.
    package static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func masked(_ address: [UInt8], prefixLength: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bitsHere = max(0, min(8, prefixLength - index * 8))
            return bitsHere == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xFF00 >> bitsHere)
        }
    }
}
