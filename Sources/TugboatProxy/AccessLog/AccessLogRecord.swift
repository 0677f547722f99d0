import NIOCore
import TugboatCore

/// One finished request, as captured on its event loop: integers, and spans of the batch's byte
/// arena for the variable parts (client address, method, target, request id, and for `combined`
/// Referer and User-Agent). Nothing in it is formatted; the writer thread does that.
struct AccessLogRecord: Sendable {
    /// Wall-clock time the request head was complete, nanoseconds since 1970.
    var startNanos: Int64 = 0
    /// From the request head to the response's end (or the outcome that ended it).
    var totalNanos: Int64 = 0
    /// From the request head to the backend's response head; negative when no backend answered.
    var upstreamNanos: Int64 = -1
    /// Request body bytes read from the client, as received (chunked framing included).
    var bytesIn: Int64 = 0
    /// Response body bytes sent to the client.
    var bytesOut: Int64 = 0
    /// The backend that answered, or the last one tried; nil when none was.
    var upstream: HostPort?
    var status: UInt16 = 0
    /// Attempts after the first (each on another backend).
    var retries: UInt16 = 0
    var protocolVersion: AccessLogProtocol = .unknown
    var client = ArenaSpan()
    var method = ArenaSpan()
    var target = ArenaSpan()
    var requestID = ArenaSpan()
    var referer = ArenaSpan()
    var userAgent = ArenaSpan()
}

/// Where some bytes are in a batch's arena (empty: absent).
struct ArenaSpan: Sendable, Equatable {
    var start: UInt32 = 0
    var count: UInt32 = 0

    var isEmpty: Bool { count == 0 }

    func offset(by base: Int) -> ArenaSpan {
        isEmpty ? self : ArenaSpan(start: start &+ UInt32(base), count: count)
    }
}

enum AccessLogProtocol: UInt8, Sendable {
    case unknown, http10, http11, http2

    var text: StaticString {
        switch self {
        case .unknown: "-"
        case .http10: "HTTP/1.0"
        case .http11: "HTTP/1.1"
        case .http2: "HTTP/2.0"
        }
    }
}

/// Records of one event loop, handed to the writer together: the records and the bytes their spans
/// point into.
struct AccessLogBatch: Sendable {
    var records: [AccessLogRecord] = []
    var arena = ByteBuffer()

    init(capacity: Int = 0, arenaCapacity: Int = 0) {
        records.reserveCapacity(capacity)
        arena = ByteBufferAllocator().buffer(capacity: arenaCapacity)
    }

    /// Appends `bytes` to the arena and returns where they are.
    mutating func store(_ bytes: UnsafeRawBufferPointer) -> ArenaSpan {
        let start = arena.writerIndex
        arena.writeBytes(bytes)
        return ArenaSpan(start: UInt32(start), count: UInt32(bytes.count))
    }
}
