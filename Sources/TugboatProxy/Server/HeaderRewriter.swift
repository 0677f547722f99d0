import NIOCore
import NIOHTTP1

/// The "rewrite request" and "rewrite response" phases: hop-by-hop headers out, forwarding headers
/// in. Each rewrite is one pass over the headers into a new list (this runs for every request).
enum HeaderRewriter {
    static let via = "1.1 tugboat"

    /// Whether the request asks to switch protocols (WebSocket and friends).
    static func isUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade")
            && head.headers[canonicalForm: "connection"].contains { $0.utf8.equalsIgnoringASCIICase("upgrade") }
    }

    /// Rewrites a client's request for the backend. Returns the request id it carries.
    static func rewriteRequest(_ head: inout HTTPRequestHead, clientIP: String?, requestID makeID: () -> String) -> String {
        let keepUpgrade = isUpgrade(head)
        let named = connectionNamedHeaders(head.headers)
        var out = HTTPHeaders()
        out.reserveCapacity(head.headers.count + 6)
        var forwardedFor: String?
        var via: String?
        var host: String?
        var id: String?
        for (name, value) in head.headers {
            switch HeaderName(name) {
            case .hopByHop, .forwardedProto, .forwardedHost: continue
            case .upgrade: if keepUpgrade { out.add(name: "upgrade", value: value) }
            case .forwardedFor: forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
            case .via: via = via.map { $0 + ", " + value } ?? value
            case .requestID:
                if id == nil, !value.isEmpty { id = value }
                out.add(name: name, value: value)
            case .host:
                if host == nil { host = value }
                out.add(name: name, value: value)
            case .other:
                if let named, named.contains(where: { name.utf8.equalsIgnoringASCIICase($0.utf8) }) { continue }
                out.add(name: name, value: value)
            }
        }
        if keepUpgrade { out.add(name: "connection", value: "upgrade") }
        if let clientIP { forwardedFor = forwardedFor.map { $0 + ", " + clientIP } ?? clientIP }
        if let forwardedFor { out.add(name: "x-forwarded-for", value: forwardedFor) }
        out.add(name: "x-forwarded-proto", value: "http")
        if let host { out.add(name: "x-forwarded-host", value: host) }
        out.add(name: "via", value: via.map { $0 + ", " + Self.via } ?? Self.via)
        let requestID: String
        if let id {
            requestID = id
        } else {
            requestID = makeID()
            out.add(name: "x-request-id", value: requestID)
        }
        head.headers = out
        // Upstream always gets HTTP/1.1 keep-alive, whatever the client speaks.
        head.version = .http1_1
        return requestID
    }

    /// Rewrites a backend's response for the client.
    static func rewriteResponse(_ head: inout HTTPResponseHead, requestID: String, closeClient: Bool, version: HTTPVersion) {
        let switching = head.status == .switchingProtocols
        let named = connectionNamedHeaders(head.headers)
        var out = HTTPHeaders()
        out.reserveCapacity(head.headers.count + 4)
        var via: String?
        var hasID = false
        for (name, value) in head.headers {
            switch HeaderName(name) {
            case .hopByHop: continue
            case .upgrade: if switching { out.add(name: "upgrade", value: value) }
            case .via: via = via.map { $0 + ", " + value } ?? value
            case .requestID:
                hasID = true
                out.add(name: name, value: value)
            case .forwardedFor, .forwardedProto, .forwardedHost, .host:
                out.add(name: name, value: value)
            case .other:
                if let named, named.contains(where: { name.utf8.equalsIgnoringASCIICase($0.utf8) }) { continue }
                out.add(name: name, value: value)
            }
        }
        if switching {
            out.add(name: "connection", value: "upgrade")
        } else if closeClient {
            out.add(name: "connection", value: "close")
        } else if version == .http1_0 {
            out.add(name: "connection", value: "keep-alive")
        }
        out.add(name: "via", value: via.map { $0 + ", " + Self.via } ?? Self.via)
        if !hasID { out.add(name: "x-request-id", value: requestID) }
        head.headers = out
        head.version = version
    }

    /// Header names listed in `Connection` (besides the standard tokens), which are hop-by-hop too.
    private static func connectionNamedHeaders(_ headers: HTTPHeaders) -> [Substring]? {
        var named: [Substring]?
        for (name, value) in headers where name.utf8.count == 10 && name.utf8.equalsIgnoringASCIICase("connection") {
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingSpaces
                if trimmed.utf8.equalsIgnoringASCIICase("close") || trimmed.utf8.equalsIgnoringASCIICase("keep-alive")
                    || trimmed.utf8.equalsIgnoringASCIICase("upgrade") || trimmed.isEmpty { continue }
                named = (named ?? []) + [trimmed]
            }
        }
        return named
    }
}

/// The header names the rewriter treats specially, recognised without allocating.
private enum HeaderName {
    case hopByHop, upgrade, forwardedFor, forwardedProto, forwardedHost, via, requestID, host, other

    init(_ name: String) {
        let utf8 = name.utf8
        switch utf8.count {
        case 2 where utf8.equalsIgnoringASCIICase("te"): self = .hopByHop
        case 3 where utf8.equalsIgnoringASCIICase("via"): self = .via
        case 4 where utf8.equalsIgnoringASCIICase("host"): self = .host
        case 7 where utf8.equalsIgnoringASCIICase("upgrade"): self = .upgrade
        case 7 where utf8.equalsIgnoringASCIICase("trailer"): self = .hopByHop
        case 10 where utf8.equalsIgnoringASCIICase("connection"), 10 where utf8.equalsIgnoringASCIICase("keep-alive"):
            self = .hopByHop
        case 12 where utf8.equalsIgnoringASCIICase("x-request-id"): self = .requestID
        case 15 where utf8.equalsIgnoringASCIICase("x-forwarded-for"): self = .forwardedFor
        case 16 where utf8.equalsIgnoringASCIICase("proxy-connection"): self = .hopByHop
        case 16 where utf8.equalsIgnoringASCIICase("x-forwarded-host"): self = .forwardedHost
        case 17 where utf8.equalsIgnoringASCIICase("x-forwarded-proto"): self = .forwardedProto
        case 18 where utf8.equalsIgnoringASCIICase("proxy-authenticate"): self = .hopByHop
        case 19 where utf8.equalsIgnoringASCIICase("proxy-authorization"): self = .hopByHop
        default: self = .other
        }
    }
}

extension Collection where Element == UInt8 {
    /// ASCII case-insensitive comparison (header names and tokens).
    @inline(__always)
    func equalsIgnoringASCIICase<Other: Collection>(_ other: Other) -> Bool where Other.Element == UInt8 {
        guard count == other.count else { return false }
        let fast = withContiguousStorageIfAvailable { mine in
            other.withContiguousStorageIfAvailable { theirs in Self.equal(mine, theirs) }
        }
        if let fast, let result = fast { return result }
        return zip(self, other).allSatisfy { Self.lower($0) == Self.lower($1) }
    }

    func equalsIgnoringASCIICase(_ other: String) -> Bool { equalsIgnoringASCIICase(other.utf8) }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 { byte &- 65 < 26 ? byte | 0x20 : byte }

    @inline(__always)
    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in 0..<a.count where lower(a[index]) != lower(b[index]) { return false }
        return true
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
