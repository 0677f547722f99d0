import Hummingbird
import Logging
import NIOCore
import TugboatCore

/// The admin listener: JSON API, Prometheus `/metrics`, `/healthz`.
public enum AdminServer {
    public static func makeRouter(state: AdminState) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        let protected = router.group().add(middleware: BearerTokenMiddleware(token: state.token))
        protected.get("/api/pool") { _, _ -> PoolView in
            PoolView(snapshot: await state.pool.snapshot, stats: state.traffic.stats(), inflight: state.dataPlane.inflight())
        }
        protected.get("/metrics") { _, _ -> Response in
            var text = MetricsRenderer.render(stats: state.traffic.stats(), snapshot: await state.pool.snapshot,
                                              inflight: state.dataPlane.inflight())
            text += state.registry.emitToString()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }

    /// A Hummingbird application (a swift-service-lifecycle Service) on `listen`.
    /// `onRunning` receives the bound address (the real port when 0 was asked for).
    public static func makeApplication(
        state: AdminState, listen: HostPort, logger: Logger,
        onRunning: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(state: state),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "tugboat"),
            onServerRunning: { channel in await onRunning(channel.localAddress) },
            logger: logger
        )
    }
}
