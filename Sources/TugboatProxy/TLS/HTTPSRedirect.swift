/// Where a plain-HTTP request is sent (308) when the site is served over HTTPS. Pure.
enum HTTPSRedirect {
    /// `https://<host>[:port]<target>`, or nil when the Host is missing or not a host name or
    /// address (nothing else is ever put into the Location).
    static func location(host: String?, target: String, httpsPort: Int) -> String? {
        guard var host, !host.isEmpty, host.utf8.count <= 255 else { return nil }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            host = String(host[...close])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        let allowed = host.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2E || byte == 0x2D || byte == 0x5B || byte == 0x5D || byte == 0x3A
        }
        guard allowed, !host.isEmpty, target.hasPrefix("/") else { return nil }
        let port = httpsPort == 443 ? "" : ":\(httpsPort)"
        return "https://\(host.lowercased())\(port)\(target)"
    }
}
