/// Which protocol to speak.
package enum RedisProtocolVersion: Sendable, Hashable {
    /// `HELLO 3`, falling back to RESP2 if the server answers HELLO with an error.
    case resp3
    /// RESP2 only: `AUTH` and `SELECT` as separate commands, no HELLO.
    case resp2
}

/// Where and how to connect. Its `description` never shows the password.
package struct RedisConfiguration: Sendable, Hashable {
    package var host: String
    package var port: Int
    /// ACL user; `nil` authenticates as `default` when a password is given.
    package var username: String?
    /// Never logged and never part of an error or a description.
    package var password: String?
    /// Database index, applied with `SELECT` on every (re)connect.
    package var database: Int
    package var protocolVersion: RedisProtocolVersion
    /// `CLIENT SETNAME` (inside HELLO on RESP3).
    package var clientName: String?
    /// TCP connect plus handshake.
    package var connectTimeout: Duration
    /// A command without a reply after this long fails with `RedisError.timeout` and the
    /// connection is dropped (reply order is lost) and re-established.
    package var commandTimeout: Duration
    /// First delay before reconnecting; doubles up to `reconnectMaximumDelay`, with ±20 % jitter.
    package var reconnectInitialDelay: Duration
    package var reconnectMaximumDelay: Duration
    /// A subscriber connection sends a PING this often (it waits for nothing else, so a server
    /// gone silent would go unnoticed); a PING without a reply within `commandTimeout` drops the
    /// connection, which is then re-established and resubscribed.
    package var healthCheckInterval: Duration = .seconds(10)
    /// `rediss://`: TLS, the server's certificate and name verified (``RedisTLS``); nil: plain TCP.
    package var tls: RedisTLS?

    package init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        protocolVersion: RedisProtocolVersion = .resp3,
        clientName: String? = nil,
        connectTimeout: Duration = .seconds(3),
        commandTimeout: Duration = .seconds(5),
        reconnectInitialDelay: Duration = .milliseconds(100),
        reconnectMaximumDelay: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.protocolVersion = protocolVersion
        self.clientName = clientName
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectInitialDelay = reconnectInitialDelay
        self.reconnectMaximumDelay = reconnectMaximumDelay
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS (verified
    /// against the system's trust store until ``tls`` names a CA). User and password may be
    /// percent-encoded; IPv6 hosts go in brackets. Throws `RedisError.invalidURL` with a reason
    /// that never contains the password.
    package init(url: String) throws(RedisError) {
        self.init()
        let schemeEnd = url.firstRange(of: "://")
        guard let schemeEnd else { throw .invalidURL("expected redis://host[:port][/db] or rediss://") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "redis" || scheme == "rediss" else {
            throw .invalidURL("unsupported scheme '\(scheme.prefix(20))', expected redis:// or rediss://")
        }
        if scheme == "rediss" { tls = RedisTLS() }
        var rest = url[schemeEnd.upperBound...]
        if rest.contains("?") { throw .invalidURL("query parameters are not supported") }
        if rest.contains("#") { throw .invalidURL("a fragment is not supported") }

        var path: Substring = ""
        // The user info may hold '/', so look for the path only after the last '@'.
        let authorityStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[authorityStart...].firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            hostPort = rest[rest.index(after: at)...]
            let userInfo = rest[..<at]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw .invalidURL("credentials must be written user:password@ or :password@")
            }
            let user = try Self.percentDecode(userInfo[..<colon], what: "user name")
            let password = try Self.percentDecode(userInfo[userInfo.index(after: colon)...], what: "password")
            self.username = user.isEmpty ? nil : user
            self.password = password.isEmpty ? nil : password
        }

        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw .invalidURL("unterminated '[' in IPv6 host") }
            self.host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL("unexpected text after the IPv6 host") }
                self.port = try Self.parsePort(after.dropFirst())
            }
        } else if let colon = hostPort.firstIndex(of: ":") {
            self.host = String(hostPort[..<colon])
            self.port = try Self.parsePort(hostPort[hostPort.index(after: colon)...])
        } else {
            self.host = String(hostPort)
        }
        guard !self.host.isEmpty else { throw .invalidURL("missing host") }

        if !path.isEmpty {
            guard let database = Int(path), database >= 0, path.allSatisfy(\.isASCII) else {
                throw .invalidURL("database must be a non-negative integer, not '\(path.prefix(20))'")
            }
            self.database = database
        }
    }

    private static func parsePort(_ text: Substring) throws(RedisError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw .invalidURL("port must be a number in 1...65535, not '\(text.prefix(20))'")
        }
        return port
    }

    private static func percentDecode(_ text: Substring, what: String) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                throw .invalidURL("invalid percent-encoding in the \(what)")
            }
            bytes.append(high << 4 | low)
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidURL("the \(what) is not valid UTF-8") }
        return string
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `redis://user:***@host:port/db` (`rediss://` with TLS); the password is always redacted.
    package var description: String {
        var credentials = ""
        if self.username != nil || self.password != nil {
            credentials = "\(self.username ?? ""):\(self.password == nil ? "" : "***")@"
        }
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(self.tls == nil ? "redis" : "rediss")://\(credentials)\(host):\(self.port)/\(self.database)"
    }

    package var debugDescription: String {
        "RedisConfiguration(\(self.description), protocol: \(self.protocolVersion), connectTimeout: \(self.connectTimeout), commandTimeout: \(self.commandTimeout))"
    }

    /// `dump` and `Mirror` see only the redacted description.
    package var customMirror: Mirror {
        Mirror(self, children: ["url": self.description], displayStyle: .struct)
    }
}
