import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import TugboatCore
import TugboatProxy

/// The admin listener: the admin router served by Hummingbird's HTTP/1 channel, on a listener
/// bound here rather than by Hummingbird's `Application`, which binds without `SO_REUSEPORT` — and
/// a seamless upgrade needs the new process to bind the admin address while the old one still
/// holds it (see `ListenerHandover`). Graceful shutdown: stop accepting, finish open requests.
/// A request head must be complete within ``headerTimeout`` of its first byte (or of the
/// connection's start); a connection idle between requests closes after ``idleTimeout``.
/// With `admin.tls` a `NIOSSLServerHandler` comes first, its certificate chosen per handshake from
/// the listener's own ``CertificateBook`` (so a renewed file reaches the next connection); the
/// head deadline then runs from the connection's start, the handshake included.
package struct AdminListener: Service {
    package static let headerTimeout: TimeAmount = .seconds(10)
    package static let idleTimeout: TimeAmount = .seconds(60)

    let responder: RouterResponder<BasicRequestContext>
    let listen: HostPort
    let group: EventLoopGroup
    let logger: Logger
    /// `admin.tls`: the admin listener's certificates (nil: plain HTTP).
    let certificates: CertificateBook?
    let serverName = "tugboat"
    /// Receives the bound address (the real port when 0 was asked for).
    let onRunning: @Sendable (SocketAddress?) async -> Void

    package init(state: AdminState, listen: HostPort, group: EventLoopGroup, logger: Logger, certificates: CertificateBook? = nil,
                onRunning: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }) {
        self.responder = AdminServer.makeRouter(state: state).buildResponder()
        self.listen = listen
        self.group = group
        self.logger = logger
        self.certificates = certificates
        self.onRunning = onRunning
    }

    package func run() async throws {
        let http = HTTP1Channel(responder: Self.respond(with: responder, serverName: serverName, logger: logger),
                                configuration: .init(additionalChannelHandlers: [AdminRequestObserver()], idleTimeout: Self.idleTimeout))
        let quiesce = ServerQuiescingHelper(group: group)
        let logger = self.logger
        // TLS 1.2/1.3 with BoringSSL's defaults and ALPN http/1.1, as the public listener without h2.
        let tls = try certificates.map { try NIOSSLContext(configuration: $0.serverConfiguration(http2: false)) }
        let server = try await ListenerHandover.reusingPort(ServerBootstrap(group: group))
            .serverChannelOption(.backlog, value: 256)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: listen.host, port: listen.port, serverBackPressureStrategy: nil) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(AdminHeadTimeoutHandler(header: Self.headerTimeout))
                }.flatMap { http.setup(channel: channel, logger: logger) }
            }
        await ListenerHandover.steerNewConnections(to: server.channel, logger: logger)
        await onRunning(server.channel.localAddress)
        let group = self.group
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { connections in
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            connections.addTask { await http.handle(value: connection, logger: logger) }
                        }
                    }
                } catch {
                    logger.error("admin listener stopped", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            quiesce.initiateShutdown(promise: group.next().makePromise(of: Void.self))
        }
    }

    /// What Hummingbird's `Application` does per request: the router's answer (500 for an error it
    /// did not turn into a response), with `Date` and `Server`.
    static func respond(with responder: some HTTPResponder<BasicRequestContext>, serverName: String,
                          logger: Logger) -> HTTPChannelHandler.Responder {
        { request, responseWriter, channel in
            let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                response = Response(status: .internalServerError)
            }
            response.headers[.date] = HTTPDate.now
            response.headers[.server] = serverName
            try await responseWriter.write(response: response.head, body: response.body)
        }
    }
}

/// `Date` header values (RFC 9110 IMF-fixdate), cached for the second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static var now: String {
        let seconds = Int(Date().timeIntervalSince1970)
        return cache.withLock { cached in
            if cached.second != seconds { cached = (seconds, format(seconds)) }
            return cached.text
        }
    }

    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
