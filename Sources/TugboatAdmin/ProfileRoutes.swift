import Foundation
import FlameGraph
import Hummingbird
import NIOCore
import TugboatCore
import TugboatStore

/// What the admin API asks of crash forensics (implemented by the executable's `CrashForensics`).
package protocol ProfileCapturing: Sendable {
    /// Captures the last window of `address` now and stores it.
    func capture(address: HostPort, reason: String) async throws -> ProfileRecord
    /// Takes stacks the application pushed (folded text, or a pprof profile, gzipped or not);
    /// throws `InputTooLarge` for a profile that inflates beyond its limit.
    func push(address: HostPort, body: [UInt8], contentType: String?) async throws
    /// The largest push body taken (`profiling.max-body`).
    var maximumPushSize: Int { get }
}

/// Flame-graph routes:
/// - `GET /api/incidents/{id}/flamegraph` — the SVG of the incident's instance (`?format=folded`
///   for the stacks). Open with the bearer token, or with the `key` of the link in the page, so the
///   person on call can open it from an SMS.
/// - `GET /api/profiles` — captured profiles, newest first; `GET /api/profiles/{id}` — one SVG.
/// - `POST /api/instances/{address}/profile` — capture now; `POST /api/instances/{address}/stacks` — push.
extension AdminServer {
    static func addFlameGraphRoutes(open: Router<BasicRequestContext>, protected group: RouterGroup<BasicRequestContext>,
                                    pushing: RouterGroup<BasicRequestContext>, state: AdminState) {
        open.get("/api/incidents/{id}/flamegraph") { request, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else { return jsonError(.badRequest, "incident id must be a number") }
            let store = state.store
            let record = try await store?.incident(id: id)
            let key = request.uri.queryParameters.get("key")
            let linkKey = record?.flamegraph.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "key" }?.value }
            let keyMatches = state.access.keyOpens(key, linkKey: linkKey, resolvedAt: record?.resolvedAt)
            if !keyMatches, let token = state.token, !BearerTokenMiddleware<BasicRequestContext>.authorized(request, token: token),
               !(DashboardSessions.id(inCookieHeader: request.headers[.cookie]).map { state.sessions.isValid($0) } ?? false) {
                return jsonError(.unauthorized, "needs the bearer token or the link's key (which expires \(DurationParser.format(state.access.linkExpiry)) after the incident resolved)")
            }
            guard let store, let record else { return jsonError(.notFound, "no incident \(id)") }
            guard let profile = try await store.profile(for: record.target, startedAt: record.startedAt, endedAt: record.resolvedAt) else {
                return jsonError(.notFound, "no flame graph captured for incident \(id) (yet)")
            }
            return profileResponse(profile, folded: request.uri.queryParameters.get("format") == "folded")
        }
        group.get("/api/profiles") { _, _ -> Response in
            struct Row: Encodable {
                var id: Int64; var address: String; var reason: String; var source: String
                var captured_at: String; var window_start: String; var samples: Int; var flamegraph: String
            }
            let rows = try await state.store?.profiles() ?? []
            return try Response.json(rows.map {
                Row(id: $0.id ?? 0, address: $0.address, reason: $0.reason, source: $0.source, captured_at: Timestamp.iso($0.capturedAt),
                    window_start: Timestamp.iso($0.windowStart), samples: $0.samples, flamegraph: "/api/profiles/\($0.id ?? 0)")
            })
        }
        group.get("/api/profiles/{id}") { request, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else { return jsonError(.badRequest, "profile id must be a number") }
            guard let profile = try await state.store?.profile(id: id) else { return jsonError(.notFound, "no profile \(id)") }
            return profileResponse(profile, folded: request.uri.queryParameters.get("format") == "folded")
        }
        // Two captures compared (flamegraph.pl's difffolded.pl + --negate-free colouring): frames
        // that grew from `against` to `id` in red, shrank in blue.
        group.get("/api/profiles/{id}/diff") { request, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self),
                  let against = request.uri.queryParameters.get("against").flatMap({ Int64($0) }) else {
                return jsonError(.badRequest, "expected /api/profiles/{id}/diff?against={other id}")
            }
            guard let after = try await state.store?.profile(id: id) else { return jsonError(.notFound, "no profile \(id)") }
            guard let before = try await state.store?.profile(id: against) else { return jsonError(.notFound, "no profile \(against)") }
            var options = FlameGraphOptions()
            options.title = "Differential: profile \(against) → \(id)"
            let combined = DifferentialStacks(normalize: true).combine(
                before: try FoldedReader.read(.bytes(Array(before.folded.utf8))).stacks,
                after: try FoldedReader.read(.bytes(Array(after.folded.utf8))).stacks)
            var headers = HTTPFields()
            headers[.contentType] = "image/svg+xml"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: FlameGraphRenderer(options: options).render(combined))))
        }
        group.post("/api/instances/{address}/profile") { _, context -> Response in
            guard let capture = state.profiles else { return jsonError(.notImplemented, "profiling is off (no 'profiling' section)") }
            guard let text = context.parameters.get("address"), let address = HostPort(parsing: text.removingPercentEncoding ?? text) else {
                return jsonError(.badRequest, "address must be host:port")
            }
            do {
                let profile = try await capture.capture(address: address, reason: Store.onDemand)
                struct Captured: Encodable { var id: Int64; var address: String; var samples: Int; var flamegraph: String }
                var response = try Response.json(Captured(id: profile.id ?? 0, address: profile.address, samples: profile.samples,
                                                          flamegraph: "/api/profiles/\(profile.id ?? 0)"))
                response.status = .created
                return response
            } catch {
                return jsonError(.conflict, "cannot capture \(address): \(error)")
            }
        }
        pushing.post("/api/instances/{address}/stacks") { request, context -> Response in
            guard let capture = state.profiles else { return jsonError(.notImplemented, "profiling is off (no 'profiling' section)") }
            guard let text = context.parameters.get("address"), let address = HostPort(parsing: text.removingPercentEncoding ?? text) else {
                return jsonError(.badRequest, "address must be host:port")
            }
            let limit = capture.maximumPushSize
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch {
                return jsonError(.contentTooLarge, "a pushed profile is at most \(limit) bytes (profiling.max-body)")
            }
            do {
                try await capture.push(address: address, body: Array(buffer: body), contentType: request.headers[.contentType])
                struct Pushed: Encodable { var address: String; var accepted: Bool }
                var response = try Response.json(Pushed(address: address.description, accepted: true))
                response.status = .accepted
                return response
            } catch let error as InputTooLarge {
                return jsonError(.contentTooLarge, error.description)
            } catch {
                return jsonError(.badRequest, "cannot read the stacks: \(error)")
            }
        }
    }

    private static func profileResponse(_ profile: ProfileRecord, folded: Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = folded ? "text/plain; charset=utf-8" : "image/svg+xml"
        let body = folded ? ByteBuffer(string: profile.folded) : ByteBuffer(bytes: profile.svg)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}
