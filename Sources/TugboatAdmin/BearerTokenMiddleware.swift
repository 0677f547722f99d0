import Hummingbird
import TugboatCore

/// Requires `Authorization: Bearer TOKEN` when a token is configured. The token is never logged
/// or echoed; comparison takes the same time whatever the input.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: Secret?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else { return try await next(request, context) }
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
