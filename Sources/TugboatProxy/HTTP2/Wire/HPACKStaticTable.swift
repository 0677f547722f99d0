/// HPACK's static table (RFC 7541 Appendix A): indices 1–61.
enum HPACKStaticTable {
    static let entries: [(name: [UInt8], value: [UInt8])] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
        (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
        (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
        (":status", "404"), (":status", "500"), ("accept-charset", ""), ("accept-encoding", "gzip, deflate"),
        ("accept-language", ""), ("accept-ranges", ""), ("accept", ""), ("access-control-allow-origin", ""),
        ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
        ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""),
        ("from", ""), ("host", ""), ("if-match", ""), ("if-modified-since", ""),
        ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""), ("last-modified", ""),
        ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
        ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
        ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""),
        ("www-authenticate", ""),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    static var count: Int { entries.count }

    /// The index of the first entry named `name`, compared without regard to ASCII case (an
    /// HTTP/1.1 backend's `Content-Type` is HTTP/2's `content-type`); nil if none.
    static func index(ofName name: UnsafeRawBufferPointer) -> Int? {
        guard let first = name.first else { return nil }
        for index in byFirstByte[Int(lowercased(first))] {
            let candidate = entries[index - 1].name
            guard candidate.count == name.count else { continue }
            let equal = candidate.withUnsafeBufferPointer { candidate in
                for offset in 1..<candidate.count where candidate[offset] != lowercased(name[offset]) { return false }
                return true
            }
            if equal { return index }
        }
        return nil
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// Entry indices by their name's first byte (a name that repeats keeps its first index).
    private static let byFirstByte: [[Int]] = {
        var groups = [[Int]](repeating: [], count: 256)
        var seen: Set<[UInt8]> = []
        for (offset, entry) in entries.enumerated() where seen.insert(entry.name).inserted {
            groups[Int(entry.name[0])].append(offset + 1)
        }
        return groups
    }()
}
