import NIOCore

/// The per-request context of one exchange (as Pingora's `CTX`): what the phases — accept request,
/// choose upstream, rewrite request, relay response, log — hand each other. The decisions about
/// the exchange's life live in ``ProxyConnectionStateMachine``; this holds the bytes and references.
struct RequestContext {
    var method: RequestMethod = .other
    var clientMinorVersion = 1
    /// The head as sent to backends, kept until the response starts so a retry can send it again.
    var forwardedHead = ByteBuffer()
    var requestID: RequestIDSource = .generated(RequestID(prefix: 0, counter: 0))
    var requestBody = BodyCursor(.none)
    var startedAt: NIODeadline = .uptimeNanoseconds(0)

    /// The backend of the current attempt (its in-flight count includes this request).
    var backend: ProxyBackend?
    var tried = TriedBackends()
    /// The backend that answered (or last failed), for the traffic meter.
    var meteredBackend: ProxyBackend?
    var lastFailure: Failure?

    var responseHeadDone = false
    var responseBody = BodyCursor(.none)
    /// The client speaks HTTP/1.0 and the backend answers chunked: relay the data only, then close.
    var dechunk = false
    var upstreamKeepAlive = true
    var status = 0

    /// The access-log record being filled (byte counts always; the rest only when the log is on),
    /// its spans pointing into the handler's `accessLogBytes`.
    var log = AccessLogRecord()
    /// A request whose line is still to be written.
    var logPending = false

    /// Why the last attempt failed, and how the client is told if it was the last.
    struct Failure {
        var status: Int
        var message: String
    }

    mutating func beginAttempt(on backend: ProxyBackend) {
        self.backend = backend
        meteredBackend = backend
        tried.append(backend)
        backend.inflight.add(1, ordering: .relaxed)
    }

    /// Ends the current attempt: the backend's in-flight count drops.
    mutating func endAttempt() {
        if let backend {
            backend.inflight.subtract(1, ordering: .relaxed)
            self.backend = nil
        }
    }
}
