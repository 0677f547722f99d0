/// The header names the proxy treats specially, recognised from raw bytes without allocating.
enum HeaderKind: UInt8 {
    case other
    case host, contentLength, transferEncoding, connection, expect
    /// Hop-by-hop by definition (RFC 9110 §7.6.1), besides those named in `Connection`;
    /// `HTTP2-Settings` belongs to an h2c upgrade (RFC 7540 §3.2.1), which is never forwarded.
    case keepAlive, te, trailer, upgrade, proxyConnection, http2Settings
    /// Any other `Proxy-*` header (Proxy-Authorization, Proxy-Authenticate, …): never forwarded.
    case proxyOther
    /// Forwarding headers a client could forge.
    case forwarded, xRealIP, xForwardedFor, xForwardedProto, xForwardedHost
    case via, xRequestID

    init(name: UnsafeRawBufferPointer) {
        switch name.count {
        case 2 where name.equalsLowercase("te"): self = .te
        case 3 where name.equalsLowercase("via"): self = .via
        case 4 where name.equalsLowercase("host"): self = .host
        case 6 where name.equalsLowercase("expect"): self = .expect
        case 7 where name.equalsLowercase("upgrade"): self = .upgrade
        case 7 where name.equalsLowercase("trailer"): self = .trailer
        case 9 where name.equalsLowercase("forwarded"): self = .forwarded
        case 9 where name.equalsLowercase("x-real-ip"): self = .xRealIP
        case 10 where name.equalsLowercase("connection"): self = .connection
        case 10 where name.equalsLowercase("keep-alive"): self = .keepAlive
        case 12 where name.equalsLowercase("x-request-id"): self = .xRequestID
        case 14 where name.equalsLowercase("content-length"): self = .contentLength
        case 14 where name.equalsLowercase("http2-settings"): self = .http2Settings
        case 15 where name.equalsLowercase("x-forwarded-for"): self = .xForwardedFor
        case 16 where name.equalsLowercase("proxy-connection"): self = .proxyConnection
        case 16 where name.equalsLowercase("x-forwarded-host"): self = .xForwardedHost
        case 17 where name.equalsLowercase("transfer-encoding"): self = .transferEncoding
        case 17 where name.equalsLowercase("x-forwarded-proto"): self = .xForwardedProto
        default:
            self = name.count > 6 && name.hasLowercasePrefix("proxy-") ? .proxyOther : .other
        }
    }

    /// Never forwarded as received, in either direction: the proxy writes its own framing
    /// (`Transfer-Encoding`) and connection management. `Content-Length` is handled per direction.
    var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .te, .trailer, .upgrade, .proxyConnection, .http2Settings, .proxyOther, .transferEncoding:
            return true
        default:
            return false
        }
    }
}

extension UnsafeRawBufferPointer {
    /// ASCII case-insensitive comparison with a lowercase literal of the same length.
    @inline(__always)
    func equalsLowercase(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for index in 0..<count where self[index] | 0x20 != other[index] {
            // `| 0x20` folds letters; the literals hold only letters, digits and '-', and the
            // only other byte that folds onto '-' (0x2D) is 0x0D, which never reaches a name.
            return false
        }
        return true
    }

    @inline(__always)
    func hasLowercasePrefix(_ lowercase: StaticString) -> Bool {
        let length = lowercase.utf8CodeUnitCount
        guard count >= length else { return false }
        return UnsafeRawBufferPointer(rebasing: self[0..<length]).equalsLowercase(lowercase)
    }
}
