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
    /// HTTP/1.1 backend's `Content-Type` is HTTP/2's `content-type`); nil if none. For the
    /// encoder, which names only regular fields (the pseudo-header `:status` it writes itself).
    /// Written out by length (RFC 7541 Appendix A): no table walked, nothing retained.
    static func index(ofName name: UnsafeRawBufferPointer) -> Int? {
        switch name.count {
        case 3:
            if name.equalsLowercase("age") { return 21 }
            if name.equalsLowercase("via") { return 60 }
        case 4:
            if name.equalsLowercase("date") { return 33 }
            if name.equalsLowercase("etag") { return 34 }
            if name.equalsLowercase("from") { return 37 }
            if name.equalsLowercase("host") { return 38 }
            if name.equalsLowercase("link") { return 45 }
            if name.equalsLowercase("vary") { return 59 }
        case 5:
            if name.equalsLowercase("allow") { return 22 }
            if name.equalsLowercase("range") { return 50 }
        case 6:
            if name.equalsLowercase("accept") { return 19 }
            if name.equalsLowercase("cookie") { return 32 }
            if name.equalsLowercase("expect") { return 35 }
            if name.equalsLowercase("server") { return 54 }
        case 7:
            if name.equalsLowercase("expires") { return 36 }
            if name.equalsLowercase("referer") { return 51 }
            if name.equalsLowercase("refresh") { return 52 }
        case 8:
            if name.equalsLowercase("if-match") { return 39 }
            if name.equalsLowercase("if-range") { return 42 }
            if name.equalsLowercase("location") { return 46 }
        case 10:
            if name.equalsLowercase("set-cookie") { return 55 }
            if name.equalsLowercase("user-agent") { return 58 }
        case 11:
            if name.equalsLowercase("retry-after") { return 53 }
        case 12:
            if name.equalsLowercase("content-type") { return 31 }
            if name.equalsLowercase("max-forwards") { return 47 }
        case 13:
            if name.equalsLowercase("accept-ranges") { return 18 }
            if name.equalsLowercase("authorization") { return 23 }
            if name.equalsLowercase("cache-control") { return 24 }
            if name.equalsLowercase("content-range") { return 30 }
            if name.equalsLowercase("if-none-match") { return 41 }
            if name.equalsLowercase("last-modified") { return 44 }
        case 14:
            if name.equalsLowercase("accept-charset") { return 15 }
            if name.equalsLowercase("content-length") { return 28 }
        case 15:
            if name.equalsLowercase("accept-encoding") { return 16 }
            if name.equalsLowercase("accept-language") { return 17 }
        case 16:
            if name.equalsLowercase("content-encoding") { return 26 }
            if name.equalsLowercase("content-language") { return 27 }
            if name.equalsLowercase("content-location") { return 29 }
            if name.equalsLowercase("www-authenticate") { return 61 }
        case 17:
            if name.equalsLowercase("if-modified-since") { return 40 }
            if name.equalsLowercase("transfer-encoding") { return 57 }
        case 18:
            if name.equalsLowercase("proxy-authenticate") { return 48 }
        case 19:
            if name.equalsLowercase("content-disposition") { return 25 }
            if name.equalsLowercase("if-unmodified-since") { return 43 }
            if name.equalsLowercase("proxy-authorization") { return 49 }
        case 25:
            if name.equalsLowercase("strict-transport-security") { return 56 }
        case 27:
            if name.equalsLowercase("access-control-allow-origin") { return 20 }
        default:
            break
        }
        return nil
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }
}
