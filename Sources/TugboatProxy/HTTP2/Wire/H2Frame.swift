import NIOCore

/// HTTP/2 error codes (RFC 9113 §7).
struct H2ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    var rawValue: UInt32

    static let noError = H2ErrorCode(rawValue: 0x0)
    static let protocolError = H2ErrorCode(rawValue: 0x1)
    static let internalError = H2ErrorCode(rawValue: 0x2)
    static let flowControlError = H2ErrorCode(rawValue: 0x3)
    static let settingsTimeout = H2ErrorCode(rawValue: 0x4)
    static let streamClosed = H2ErrorCode(rawValue: 0x5)
    static let frameSizeError = H2ErrorCode(rawValue: 0x6)
    static let refusedStream = H2ErrorCode(rawValue: 0x7)
    static let cancel = H2ErrorCode(rawValue: 0x8)
    static let compressionError = H2ErrorCode(rawValue: 0x9)
    static let connectError = H2ErrorCode(rawValue: 0xa)
    static let enhanceYourCalm = H2ErrorCode(rawValue: 0xb)
    static let inadequateSecurity = H2ErrorCode(rawValue: 0xc)
    static let http11Required = H2ErrorCode(rawValue: 0xd)

    var description: String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
                     "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
                     "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return rawValue < names.count ? names[Int(rawValue)] : "0x\(String(rawValue, radix: 16))"
    }
}

/// A connection error: the connection ends with GOAWAY carrying `code`.
struct H2ConnectionError: Error, Equatable {
    var code: H2ErrorCode
    var reason: String
}

/// SETTINGS parameters (RFC 9113 §6.5.2).
enum H2Setting {
    static let headerTableSize: UInt16 = 0x1
    static let enablePush: UInt16 = 0x2
    static let maxConcurrentStreams: UInt16 = 0x3
    static let initialWindowSize: UInt16 = 0x4
    static let maxFrameSize: UInt16 = 0x5
    static let maxHeaderListSize: UInt16 = 0x6
}

/// One frame from the client, as ``H2FrameReader`` hands it on: a HEADERS frame and the
/// CONTINUATION frames after it come as one `.headers` with the whole block; padding removed.
enum H2Frame: Equatable {
    case data(stream: UInt32, payload: ByteBuffer, endStream: Bool, flowControlled: Int)
    case headers(stream: UInt32, block: ByteBuffer, endStream: Bool, dependsOn: UInt32?)
    case priority(stream: UInt32, dependsOn: UInt32)
    case rstStream(stream: UInt32, code: H2ErrorCode)
    case settings([(UInt16, UInt32)])
    case settingsAck
    case ping(UInt64)
    case pingAck(UInt64)
    case goAway(lastStream: UInt32, code: H2ErrorCode)
    case windowUpdate(stream: UInt32, increment: Int)
    /// A frame that is a stream error (RFC 9113: PRIORITY of the wrong size, WINDOW_UPDATE of 0
    /// on a stream): the stream is reset with `code`, the connection goes on.
    case streamError(stream: UInt32, code: H2ErrorCode)
    /// A frame of an unknown type (ignored, §5.5).
    case unknown

    static func == (lhs: H2Frame, rhs: H2Frame) -> Bool {
        switch (lhs, rhs) {
        case let (.data(a, b, c, d), .data(e, f, g, h)): a == e && b == f && c == g && d == h
        case let (.headers(a, b, c, d), .headers(e, f, g, h)): a == e && b == f && c == g && d == h
        case let (.priority(a, b), .priority(c, d)): a == c && b == d
        case let (.rstStream(a, b), .rstStream(c, d)): a == c && b == d
        case let (.settings(a), .settings(b)): a.elementsEqual(b, by: ==)
        case (.settingsAck, .settingsAck), (.unknown, .unknown): true
        case let (.ping(a), .ping(b)), let (.pingAck(a), .pingAck(b)): a == b
        case let (.goAway(a, b), .goAway(c, d)): a == c && b == d
        case let (.windowUpdate(a, b), .windowUpdate(c, d)): a == c && b == d
        case let (.streamError(a, b), .streamError(c, d)): a == c && b == d
        default: false
        }
    }
}
