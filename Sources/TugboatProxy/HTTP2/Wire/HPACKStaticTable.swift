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

    /// Every entry's name then value, one after another in one array (`bounds` says where), so an
    /// entry is lent as one run of bytes without retaining an array per name and per value.
    private static let flat: [UInt8] = entries.flatMap { $0.name + $0.value }
    /// Entry i's bytes are `flat[bounds[i].start..<bounds[i].end]`, its name the first `nameLength`.
    private static let bounds: [(start: Int, nameLength: Int, end: Int)] = {
        var start = 0
        return entries.map { entry in
            defer { start += entry.name.count + entry.value.count }
            return (start, entry.name.count, start + entry.name.count + entry.value.count)
        }
    }()

    /// Entry `index` (1…61) as one run of bytes, its name then its value, and the name's length.
    @inline(__always)
    static func withEntryBytes<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer, Int) -> Result) -> Result {
        let bound = bounds[index - 1]
        return flat.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[bound.start..<bound.end]), bound.nameLength) }
    }

    /// The index of the first entry named `name`, compared without regard to ASCII case (an
    /// HTTP/1.1 backend's `Content-Type` is HTTP/2's `content-type`); nil if none. For the
    /// encoder, which names only regular fields (the pseudo-header `:status` it writes itself).
    /// Written out by length (RFC 7541 Appendix A): no table walked, nothing retained.
    static func index(ofName name: UnsafeRawBufferPointer) -> Int? {
        switch name.count {
        case 3:
            if matches(name, "age") { return 21 }
            if matches(name, "via") { return 60 }
        case 4:
            if matches(name, "date") { return 33 }
            if matches(name, "etag") { return 34 }
            if matches(name, "from") { return 37 }
            if matches(name, "host") { return 38 }
            if matches(name, "link") { return 45 }
            if matches(name, "vary") { return 59 }
        case 5:
            if matches(name, "allow") { return 22 }
            if matches(name, "range") { return 50 }
        case 6:
            if matches(name, "accept") { return 19 }
            if matches(name, "cookie") { return 32 }
            if matches(name, "expect") { return 35 }
            if matches(name, "server") { return 54 }
        case 7:
            if matches(name, "expires") { return 36 }
            if matches(name, "referer") { return 51 }
            if matches(name, "refresh") { return 52 }
        case 8:
            if matches(name, "if-match") { return 39 }
            if matches(name, "if-range") { return 42 }
            if matches(name, "location") { return 46 }
        case 10:
            if matches(name, "set-cookie") { return 55 }
            if matches(name, "user-agent") { return 58 }
        case 11:
            if matches(name, "retry-after") { return 53 }
        case 12:
            if matches(name, "content-type") { return 31 }
            if matches(name, "max-forwards") { return 47 }
        case 13:
            if matches(name, "accept-ranges") { return 18 }
            if matches(name, "authorization") { return 23 }
            if matches(name, "cache-control") { return 24 }
            if matches(name, "content-range") { return 30 }
            if matches(name, "if-none-match") { return 41 }
            if matches(name, "last-modified") { return 44 }
        case 14:
            if matches(name, "accept-charset") { return 15 }
            if matches(name, "content-length") { return 28 }
        case 15:
            if matches(name, "accept-encoding") { return 16 }
            if matches(name, "accept-language") { return 17 }
        case 16:
            if matches(name, "content-encoding") { return 26 }
            if matches(name, "content-language") { return 27 }
            if matches(name, "content-location") { return 29 }
            if matches(name, "www-authenticate") { return 61 }
        case 17:
            if matches(name, "if-modified-since") { return 40 }
            if matches(name, "transfer-encoding") { return 57 }
        case 18:
            if matches(name, "proxy-authenticate") { return 48 }
        case 19:
            if matches(name, "content-disposition") { return 25 }
            if matches(name, "if-unmodified-since") { return 43 }
            if matches(name, "proxy-authorization") { return 49 }
        case 25:
            if matches(name, "strict-transport-security") { return 56 }
        case 27:
            if matches(name, "access-control-allow-origin") { return 20 }
        default:
            break
        }
        return nil
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// `name` equals the lower-case `literal` (of the same length: the caller switched on it) but
    /// for ASCII case (this file stands alone: the HPACK fuzz target compiles it without the HTTP/1
    /// helpers). Eight bytes at a time, the last word overlapping: `A`–`Z` folded in the word (and
    /// nothing else: a byte that is no capital letter stays as it is), then one compare.
    @inline(__always)
    private static func matches(_ name: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let count = name.count
        let other = UnsafeRawPointer(literal.utf8Start)
        guard count >= 8 else {
            for index in 0..<count where lowercased(name[index]) != other.load(fromByteOffset: index, as: UInt8.self) { return false }
            return true
        }
        var index = 0
        while true {
            let offset = min(index, count - 8)
            let word = UInt64(littleEndian: name.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let expected = UInt64(littleEndian: other.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            guard lowercased(word) == expected else { return false }
            index += 8
            if index >= count { return true }
        }
    }

    /// Each byte of `word` that is `A`–`Z` made lower case (SWAR: the high bit of each byte is
    /// set by the adds only where its low seven bits are at least 0x41 and below 0x5B, and bytes
    /// with their own high bit set are left alone; no add carries into the next byte).
    @inline(__always)
    static func lowercased(_ word: UInt64) -> UInt64 {
        let low7 = word & 0x7F7F_7F7F_7F7F_7F7F
        let atLeastA = low7 &+ 0x3F3F_3F3F_3F3F_3F3F
        let aboveZ = low7 &+ 0x2525_2525_2525_2525
        let capitals = atLeastA & ~aboveZ & ~word & 0x8080_8080_8080_8080
        return word | (capitals >> 2)
    }
}
