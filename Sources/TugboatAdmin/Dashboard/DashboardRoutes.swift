import Foundation
import Hummingbird
import NIOCore
import Synchronization
import TugboatCore

/// The dashboard at `/`: the page and its script and style (embedded in the binary, see
/// `DashboardAssets`), the login (`/api/session`) and the live feed (`/api/events`).
extension AdminServer {
    /// At most this many `/api/events` streams at once (503 beyond).
    static let eventStreamLimit = 16

    static func addDashboardRoutes(open router: Router<BasicRequestContext>, protected group: RouterGroup<BasicRequestContext>,
                                   state: AdminState) {
        for asset in DashboardAssets.all {
            router.get(RouterPath(asset.path)) { _, _ -> Response in
                var headers = HTTPFields()
                headers[.contentType] = asset.contentType
                headers[.cacheControl] = "no-cache"
                // Everything from this listener only: no inline script, no other origin.
                headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"
                headers[.xContentTypeOptions] = "nosniff"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.text)))
            }
        }
        addSessionRoutes(router, state: state)
        let streams = Atomic<Int>(0)
        group.get("/api/events") { request, _ -> Response in
            guard streams.add(1, ordering: .relaxed).newValue <= eventStreamLimit else {
                streams.subtract(1, ordering: .relaxed)
                return jsonError(.serviceUnavailable, "too many event streams (at most \(eventStreamLimit))")
            }
            state.dashboard.start(state)
            let resumeAfter = BearerTokenMiddleware<BasicRequestContext>.header(request, "last-event-id").flatMap { UInt64($0) } ?? 0
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer { streams.subtract(1, ordering: .relaxed) }
                var events = EventStreamWriter(writer: writer, timeout: .seconds(10))
                try await streamSections(state: state, to: &events, firstID: resumeAfter + 1)
            })
        }
    }

    /// Sends every section at once, then each second the sections that changed (the traffic
    /// point always), with a comment every 15 s so proxies keep the stream open. Each event's id
    /// goes up by one; a reconnecting browser sends the last one (`Last-Event-ID`) and gets every
    /// section again, numbered after it. Ends when the client goes or is too slow.
    static func streamSections(state: AdminState, to events: inout EventStreamWriter, firstID: UInt64) async throws {
        var id = firstID
        var sent: [String: String] = [:]
        var quietSeconds = 0
        try await events.write("retry: 2000\n\n")
        while !Task.isCancelled {
            let sections = await state.dashboard.sections(state)
            var text = ""
            let first = sent.isEmpty
            for name in sections.keys.sorted() where sent[name] != sections[name] && (name != "history" || first) {
                text += EventStreamWriter.format(event: name, id: id, data: sections[name]!)
                sent[name] = sections[name]
                id += 1
            }
            quietSeconds = text.isEmpty ? quietSeconds + 1 : 0
            if quietSeconds >= 15 {
                text = ": keep-alive\n\n"
                quietSeconds = 0
            }
            if !text.isEmpty { try await events.write(text) }
            try await Task.sleep(for: .seconds(1))
        }
    }

    static func addSessionRoutes(_ router: Router<BasicRequestContext>, state: AdminState) {
        struct Login: Decodable { var token: String }
        struct SessionView: Encodable { var token_required: Bool; var authenticated: Bool }
        router.get("/api/session") { request, _ -> Response in
            let id = DashboardSessions.id(inCookieHeader: request.headers[.cookie])
            let authenticated = state.token == nil || id.map { state.sessions.isValid($0) } == true
                || (state.token.map { BearerTokenMiddleware<BasicRequestContext>.authorized(request, token: $0) } ?? false)
            return try Response.json(SessionView(token_required: state.token != nil, authenticated: authenticated))
        }
        router.post("/api/session") { request, context -> Response in
            guard let token = state.token else { return Response(status: .noContent) }
            guard let login = try? await request.decode(as: Login.self, context: context) else {
                return jsonError(.badRequest, "expected {\"token\":\"...\"}")
            }
            guard ConstantTime.equal(login.token, token.value) else {
                // A wrong guess costs the guesser a second.
                try? await Task.sleep(for: .seconds(1))
                return jsonError(.unauthorized, "wrong token")
            }
            var headers = HTTPFields()
            let id = state.sessions.create()
            headers[.setCookie] = "\(DashboardSessions.cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(DashboardSessions.lifetime))"
                + (state.secureCookies ? "; Secure" : "")
            return Response(status: .noContent, headers: headers)
        }
        router.delete("/api/session") { request, _ -> Response in
            if let id = DashboardSessions.id(inCookieHeader: request.headers[.cookie]) { state.sessions.remove(id) }
            var headers = HTTPFields()
            headers[.setCookie] = "\(DashboardSessions.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (state.secureCookies ? "; Secure" : "")
            return Response(status: .noContent, headers: headers)
        }
    }
}
