import Hummingbird
import TugboatCore

/// Requires `Authorization: Bearer TOKEN` when a token is configured, or the dashboard's session
/// cookie (`DashboardSessions`); a request that changes something on the strength of the cookie
/// must also carry `X-Tugboat-CSRF: 1`, which another site's form or image cannot send (403
/// otherwise). The token is never logged or echoed; comparison takes the same time whatever the input.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: Secret?
    var sessions: DashboardSessions?
    /// A second token for this route group only (the push route's `profiling.push-token`): it
    /// opens these routes and nothing else; with it set, they are closed even without an admin token.
    var alsoAccepted: Secret? = nil

    /// A header's value by its lower-case name (for names `HTTPFields` has no constant for).
    static func header(_ request: Request, _ lowercasedName: String) -> String? {
        request.headers.first { $0.name.canonicalName == lowercasedName }?.value
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let alsoAccepted, Self.authorized(request, token: alsoAccepted) { return try await next(request, context) }
        guard let token = token ?? alsoAccepted else { return try await next(request, context) }
        if !Self.authorized(request, token: token), let sessions,
           let id = DashboardSessions.id(inCookieHeader: request.headers[.cookie]), sessions.isValid(id) {
            guard request.method == .get || request.method == .head || Self.header(request, "x-tugboat-csrf") == "1" else {
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                return Response(status: .forbidden, headers: headers,
                                body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"a change made with the session cookie needs the X-Tugboat-CSRF: 1 header\"}\n")))
            }
            return try await next(request, context)
        }
        guard Self.authorized(request, token: token) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            headers[.contentType] = "application/json"
            return Response(status: .unauthorized, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"missing or wrong bearer token\"}\n")))
        }
        return try await next(request, context)
    }

    /// Whether the request carries `Authorization: Bearer <token>`.
    static func authorized(_ request: Request, token: Secret) -> Bool {
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        return header.hasPrefix(prefix) && ConstantTime.equal(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(token.value.utf8))
    }
}
