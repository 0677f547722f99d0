/// A `host:port` address as written in the config (`127.0.0.1:9001`, `[::1]:80`, `app.local:8080`).
package struct HostPort: Hashable, Sendable, CustomStringConvertible, Comparable {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; `allowPortZero` lets a listener ask the kernel for a free port.
    package init?(parsing text: String, allowPortZero: Bool = false) {
        let trimmed = text.trimmingCharacters(in: " ")
        let hostPart: Substring
        let portPart: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { return nil }
            hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let after = trimmed[trimmed.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portPart = after.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else { return nil }
            hostPart = trimmed[..<colon]
            portPart = trimmed[trimmed.index(after: colon)...]
            if hostPart.contains(":") { return nil }  // bare IPv6 must be bracketed
        }
        guard !hostPart.isEmpty, Self.isValidHost(hostPart),
              let port = Int(portPart), port >= (allowPortZero ? 0 : 1), port <= 65535
        else { return nil }
        self.host = String(hostPart)
        self.port = port
    }

    private static func isValidHost(_ host: Substring) -> Bool {
        host.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reachable from this machine only: 127.0.0.0/8, ::1 or `localhost`.
    package var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    package static func < (lhs: HostPort, rhs: HostPort) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}
