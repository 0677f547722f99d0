import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Requests to the API server: the bearer token (read afresh for each request), the TLS of the
/// ``KubernetesConnection``, no redirects (a redirect must not carry the token elsewhere), and
/// every answer other than 2xx turned into a ``KubernetesError`` from its `Status`.
final class KubernetesClient: Sendable {
    let connection: KubernetesConnection
    let namespace: String
    private let http: HTTPClient

    init(connection: KubernetesConnection, namespace: String) {
        self.connection = connection
        self.namespace = namespace
        var configuration = HTTPClient.Configuration(tlsConfiguration: connection.tls, redirectConfiguration: .disallow)
        configuration.timeout.connect = .seconds(10)
        // A refused connection or a failed TLS handshake fails the request at once (by default the
        // client tries again until the deadline, which hid a wrong CA for 10 s per attempt); the
        // watch, the scaler and the lease retry with their own backoff.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        Self.open.withLock { $0[ObjectIdentifier(http)] = http }
    }

    /// Clients not shut down yet: kept here so that one whose owner ends without ``shutdown()``
    /// (a task cancelled at exit) is never deinitialised open, which AsyncHTTPClient traps on.
    private static let open = Mutex<[ObjectIdentifier: HTTPClient]>([:])

    /// The RBAC names of one request, for a ``KubernetesError``.
    struct Access: Sendable {
        var verb: String
        var resource: String
    }

    private func request(_ method: HTTPMethod, _ path: String, body: Data?, contentType: String) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: connection.server + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let token = try connection.token.current() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    /// One request; the body of a 2xx answer.
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/json",
              _ access: Access, timeout: TimeAmount = .seconds(30)) async throws -> Data {
        let response = try await execute(try request(method, path, body: body, contentType: contentType), timeout: timeout)
        let data = Data(try await response.body.collect(upTo: 16 << 20).readableBytesView)
        guard (200..<300).contains(response.status.code) else { throw error(response, data, access) }
        return data
    }

    /// A watch: the open response body (a stream of JSON lines), once the server answered 200.
    func stream(_ path: String, _ access: Access, timeout: TimeAmount) async throws -> HTTPClientResponse.Body {
        let response = try await execute(try request(.GET, path, body: nil, contentType: ""), timeout: timeout)
        guard response.status == .ok else {
            let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            throw error(response, data, access)
        }
        return response.body
    }

    /// A failure to connect or to shake hands names the server and the kubeconfig (``KubernetesUnreachable``).
    private func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw error }
            throw KubernetesUnreachable(server: connection.server, origin: connection.origin, error: error)
        }
    }

    private func error(_ response: HTTPClientResponse, _ body: Data, _ access: Access) -> KubernetesError {
        KubernetesError.from(status: Int(response.status.code), body: body, retryAfterHeader: response.headers["retry-after"].first,
                             verb: access.verb, resource: access.resource, namespace: namespace)
    }

    func shutdown() async {
        try? await http.shutdown()
        _ = Self.open.withLock { $0.removeValue(forKey: ObjectIdentifier(http)) }
    }
}
