import Foundation
import Hummingbird
import NIOFoundationCompat
import Logging
import NIOCore
import TugboatCore
import TugboatProxy
import TugboatScaling

/// The admin listener: JSON API, Prometheus `/metrics`, `/healthz`.
package enum AdminServer {
    // Routes: /healthz (open); with the token: /api/pool, /api/pool/backends, /metrics,
    // /api/incidents[/{id}[/ack]], /api/notifications, /api/scaling/events, /api/reload, the flame-graph routes
    // (ProfileRoutes.swift; an incident's flame graph also opens with its link's key); signed by
    // Twilio instead of the token: /api/twilio/sms, /api/twilio/voice (TwilioCallbackRoutes.swift).
    // Every route checks `Host` (AdminAccess); writes with the token need a JSON content type,
    // except the stacks an application pushes (a profile, not JSON).
    package static func makeRouter(state: AdminState) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: HostCheckMiddleware(access: state.access))
        router.get("/healthz") { _, _ in "ok\n" }
        let pushing = router.group().add(middleware: BearerTokenMiddleware(token: state.token, sessions: state.sessions, alsoAccepted: state.pushToken))
        let protected = router.group().add(middleware: BearerTokenMiddleware(token: state.token, sessions: state.sessions)).add(middleware: JSONWritesMiddleware())
        protected.get("/api/pool") { _, _ -> PoolView in
            PoolView(snapshot: await state.pool.snapshot, stats: state.traffic.stats(), inflight: state.dataPlane.inflight())
        }
        protected.get("/metrics") { _, _ -> Response in
            var text = MetricsRenderer.render(stats: state.traffic.stats(), snapshot: await state.pool.snapshot,
                                              inflight: state.dataPlane.inflight(), connections: state.dataPlane.connections,
                                              splices: state.dataPlane.splices,
                                              accessLog: state.dataPlane.accessLog, loops: state.dataPlane.loopSpread)
            text += CertificateRoutes.metrics(state.certificates, admin: state.adminCertificates)
            text += await ControlPlaneMetrics.render(state)
            text += MetricHelp.annotate(state.registry.emitToString())
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        addIncidentRoutes(protected, state: state)
        SilenceRoutes.add(protected, state: state)
        CertificateRoutes.add(protected, state: state)
        addPoolRoutes(protected, state: state)
        ReloadRoutes.add(protected, state: state)
        addFlameGraphRoutes(open: router, protected: protected, pushing: pushing, state: state)
        addClusterRoutes(protected, state: state)
        addTwilioCallbackRoutes(router, state: state)  // open: Twilio's signature, not the token
        addDashboardRoutes(open: router, protected: protected, state: state)
        protected.get("/api/scaling/events") { _, _ -> Response in
            struct Row: Encodable { var at: String; var from: Int; var to: Int; var state: ScalingState; var reason: String; var failed: Bool }
            let rows = try await state.store?.scalingEvents() ?? []
            return try Response.json(rows.map { Row(at: Timestamp.iso($0.at), from: $0.from, to: $0.to, state: $0.state, reason: $0.reason, failed: $0.failed) })
        }
        return router
    }

    /// `POST /api/pool/backends` `{"address":"host:port"}` and `DELETE /api/pool/backends/{address}`:
    /// on this node (persisted in SQLite), or with several nodes for the whole cluster (the registry).
    static func addPoolRoutes(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        struct AddBackend: Decodable { var address: String }
        struct Changed: ResponseEncodable { var address: String; var state: BackendState }
        group.post("/api/pool/backends") { request, context -> Response in
            guard let membership = state.membership else { return jsonError(.notImplemented, "run-time pool changes are off") }
            guard let body = try? await request.decode(as: AddBackend.self, context: context) else {
                return jsonError(.badRequest, "expected {\"address\":\"host:port\"}")
            }
            guard let address = HostPort(parsing: body.address) else {
                return jsonError(.badRequest, "address must be host:port with a port from 1 to 65535")
            }
            if let cluster = state.cluster {
                do {
                    guard try await cluster.addBackend(address) else { return jsonError(.conflict, "\(address) is already in the pool") }
                } catch {
                    return jsonError(.serviceUnavailable, "the cluster registry is unreachable: \(error)")
                }
                var response = try Response.json(Changed(address: address.description, state: .starting))
                response.status = .created
                return response
            }
            switch await membership.add(address) {
            case .alreadyPresent: return jsonError(.conflict, "\(address) is already in the pool")
            default:
                var response = try Response.json(Changed(address: address.description, state: .starting))
                response.status = .created
                return response
            }
        }
        group.delete("/api/pool/backends/{address}") { _, context -> Response in
            guard let membership = state.membership else { return jsonError(.notImplemented, "run-time pool changes are off") }
            guard let text = context.parameters.get("address"), let address = HostPort(parsing: text.removingPercentEncoding ?? text) else {
                return jsonError(.badRequest, "address must be host:port")
            }
            if let cluster = state.cluster {
                do {
                    guard try await cluster.removeBackend(address) else { return jsonError(.notFound, "\(address) is not in the pool") }
                } catch {
                    return jsonError(.serviceUnavailable, "the cluster registry is unreachable: \(error)")
                }
                var response = try Response.json(Changed(address: address.description, state: .draining))
                response.status = .accepted
                return response
            }
            switch await membership.drainAndRemove(address) {
            case .unknown: return jsonError(.notFound, "\(address) is not in the pool")
            default:
                var response = try Response.json(Changed(address: address.description, state: .draining))
                response.status = .accepted
                return response
            }
        }
    }

    @Sendable static func jsonError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: errorBody(message))))
    }

    /// `{"error":"…"}` and a newline: valid JSON for any message (backslashes, newlines and control
    /// characters escaped; double quotes shown as single ones, as they always were), secrets redacted.
    static func errorBody(_ message: String) -> String {
        struct Body: Encodable { var error: String }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = Body(error: Redaction.redact(message).replacingOccurrences(of: "\"", with: "'"))
        return ((try? encoder.encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"unknown"}"#) + "\n"
    }

    static func addIncidentRoutes(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.get("/api/incidents") { _, _ -> Response in
            guard let store = state.store else { return try Response.json([IncidentView]()) }
            return try Response.json(try await store.incidents().map { IncidentView($0) })
        }
        group.get("/api/incidents/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else { return jsonError(.badRequest, "incident id must be a number") }
            guard let store = state.store, let record = try await store.incident(id: id) else { return jsonError(.notFound, "no incident \(id)") }
            var view = IncidentView(record, notifications: try await store.notifications(incident: id))
            if record.flamegraph != nil,
               try await store.profile(for: record.target, startedAt: record.startedAt, endedAt: record.resolvedAt) != nil {
                view.flamegraph = record.flamegraph
            }
            return try Response.json(view)
        }
        group.post("/api/incidents/{id}/ack") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else { return jsonError(.badRequest, "incident id must be a number") }
            guard let store = state.store, let record = try await store.incident(id: id) else { return jsonError(.notFound, "no incident \(id)") }
            switch await state.alerts?.acknowledge(incident: id) ?? .notFiring {
            case .acknowledged: break
            case .alreadyAcknowledged: return jsonError(.conflict, "incident \(id) is already acknowledged")
            case .notFiring: return jsonError(.conflict, "incident \(id) is \(record.state), not firing")
            }
            return try Response.json(IncidentView(try await store.incident(id: id) ?? record))
        }
        group.get("/api/notifications") { _, _ -> Response in
            guard let store = state.store else { return try Response.json([NotificationView]()) }
            return try Response.json(try await store.notifications().map(NotificationView.init))
        }
    }
}

extension Response {
    /// A JSON response of an encodable value (snake_case keys are spelled in the view types).
    static func json<T: Encodable>(_ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
