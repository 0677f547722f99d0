import NIOCore
import NIOHTTP1

/// The state of one request/response exchange on a client connection.
struct Exchange {
    var head: HTTPRequestHead?
    var clientVersion: HTTPVersion = .http1_1
    var requestID = ""
    var startedAt: NIODeadline = .uptimeNanoseconds(0)
    /// When the `request` timeout ends.
    var deadline: NIODeadline = .distantFuture
    var idempotent = false
    var isUpgrade = false
    /// The client asked to close (or spoke HTTP/1.0 without keep-alive), or we decided to.
    var closeClient = false
    /// The request announces a body (`Content-Length` > 0 or `Transfer-Encoding`).
    var expectsBody = false
    /// The client has sent the whole request.
    var requestComplete = false
    /// Body bytes reached an upstream: from then on the request cannot be retried.
    var bodyForwarded = false
    /// Request parts received while no upstream connection was ready.
    var buffered: [HTTPClientRequestPart] = []
    /// The backend of the current attempt (its in-flight count includes this request).
    var backend: ProxyBackend?
    var tried = TriedBackends()
    /// The backend that answered (or last failed), for the traffic meter.
    var meteredBackend: ProxyBackend?
    var lastFailure: Failure?
    var responseStarted = false
    var status = 0
    /// The backend's response allows the connection to be reused.
    var upstreamReusable = true

    /// Why the last attempt failed, and how the client is told if it was the last.
    struct Failure {
        var status: HTTPResponseStatus
        var message: String
    }

    static func announcesBody(_ headers: HTTPHeaders) -> Bool {
        if headers.contains(name: "transfer-encoding") { return true }
        guard let length = headers.first(name: "content-length") else { return false }
        return length != "0"
    }

    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: return true
        default: return false
        }
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

/// The backends one request has been sent to. The first needs no allocation (most requests
/// never retry); retries go into an array.
struct TriedBackends: ExpressibleByArrayLiteral {
    private var first: ProxyBackend?
    private var others: [ProxyBackend] = []

    init(arrayLiteral elements: ProxyBackend...) {
        for element in elements { append(element) }
    }

    var count: Int { first == nil ? 0 : 1 + others.count }
    var isEmpty: Bool { first == nil }

    mutating func append(_ backend: ProxyBackend) {
        if first == nil { first = backend } else { others.append(backend) }
    }

    func contains(_ backend: ProxyBackend) -> Bool {
        first === backend || others.contains { $0 === backend }
    }
}
