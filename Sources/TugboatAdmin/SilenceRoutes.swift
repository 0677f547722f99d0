import Foundation
import Hummingbird
import NIOCore
import TugboatAlerts
import TugboatCore
import TugboatStore

/// `POST /api/silences`, `GET /api/silences`, `DELETE /api/silences/{id}`, and `GET /api/outages`.
enum SilenceRoutes {
    /// The largest silence body read: matchers and a comment, nothing more.
    static let maximumBody = 16 * 1024

    struct SilenceView: ResponseEncodable, Sendable {
        var id: Int64
        var matchers: [String: String]
        var starts: String
        var ends: String
        var comment: String
        var created_by: String
        /// `active`, `pending` (starts later) or `expired`.
        var state: String

        init(_ record: SilenceRecord, now: Date = Date()) {
            id = record.id ?? 0
            matchers = (try? JSONSerialization.jsonObject(with: Data(record.matchers.utf8))) as? [String: String] ?? [:]
            starts = Timestamp.iso(record.startsAt)
            ends = Timestamp.iso(record.endsAt)
            comment = record.comment
            created_by = record.createdBy
            state = record.endsAt <= now ? "expired" : record.startsAt > now ? "pending" : "active"
        }
    }

    struct OutageView: ResponseEncodable, Sendable {
        var id: Int64
        var key: String
        var state: IncidentState
        var summary: String
        var silenced: Bool
        var started_at: String
        var fired_at: String?
        var acknowledged_at: String?
        var acknowledged_by: String?
        var resolved_at: String?
        var incidents: [Int64]
    }

    /// The silence book (the store, or Redis with several nodes) could not be read or written.
    static func unreachable(_ error: any Error) -> Response {
        AdminServer.jsonError(.serviceUnavailable, "silences are unreachable: \(error)")
    }

    static func add(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.post("/api/silences") { request, context -> Response in
            guard let alerts = state.alerts else { return AdminServer.jsonError(.notImplemented, "alerts are off") }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumBody)
            } catch {
                return AdminServer.jsonError(.contentTooLarge, "a silence body is at most \(maximumBody) bytes")
            }
            let parsed: ParsedSilence
            switch ParsedSilence.parse(Data(buffer: body)) {
            case .success(let value): parsed = value
            case .failure(let error): return AdminServer.jsonError(.badRequest, error.description)
            }
            do {
                let record = try await alerts.createSilence(matchers: parsed.matchers, starts: parsed.starts, ends: parsed.ends,
                                                            comment: parsed.comment, createdBy: parsed.createdBy)
                var response = try Response.json(SilenceView(record))
                response.status = .created
                return response
            } catch let error as AlertManager.SilenceError {
                return AdminServer.jsonError(.badRequest, error.description)
            } catch {
                return unreachable(error)
            }
        }
        group.get("/api/silences") { _, _ -> Response in
            guard let alerts = state.alerts else { return try Response.json([SilenceView]()) }
            let silences: [SilenceRecord]
            do {
                silences = try await alerts.silences()
            } catch {
                return unreachable(error)
            }
            return try Response.json(silences.map { SilenceView($0) })
        }
        group.delete("/api/silences/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else { return AdminServer.jsonError(.badRequest, "silence id must be a number") }
            let expired: Bool
            do {
                expired = try await state.alerts?.expireSilence(id: id) ?? false
            } catch {
                return unreachable(error)
            }
            guard expired else { return AdminServer.jsonError(.notFound, "no active or pending silence \(id)") }
            return Response(status: .noContent)
        }
        group.get("/api/outages") { _, _ -> Response in
            guard let store = state.store else { return try Response.json([OutageView]()) }
            var views: [OutageView] = []
            for outage in try await store.outages() {
                views.append(OutageView(id: outage.id ?? 0, key: outage.key, state: outage.state, summary: Redaction.redact(outage.summary),
                                        silenced: outage.silenced, started_at: Timestamp.iso(outage.startedAt),
                                        fired_at: outage.firedAt.map(Timestamp.iso), acknowledged_at: outage.acknowledgedAt.map(Timestamp.iso),
                                        acknowledged_by: outage.acknowledgedBy, resolved_at: outage.resolvedAt.map(Timestamp.iso),
                                        incidents: try await store.incidents(outage: outage.id ?? 0).compactMap(\.id)))
            }
            return try Response.json(views)
        }
    }
}

/// A `POST /api/silences` body: `{"matchers": {...}, "starts"?, "ends", "comment", "created-by"?}`.
struct ParsedSilence: Equatable {
    struct Invalid: Error, CustomStringConvertible { let description: String }

    var matchers: [String: String]
    var starts: Date?
    var ends: Date
    var comment: String
    var createdBy: String

    static func parse(_ data: Data) -> Result<ParsedSilence, Invalid> {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return .failure(Invalid(description: "expected a JSON object {\"matchers\": {...}, \"ends\": \"<RFC 3339>\", \"comment\": \"...\"}"))
        }
        let known: Set = ["matchers", "starts", "ends", "comment", "created-by", "created_by", "createdBy"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            return .failure(Invalid(description: "unknown field '\(unknown)'"))
        }
        guard let rawMatchers = object["matchers"] as? [String: Any] else {
            return .failure(Invalid(description: "'matchers' must be an object of rule, target and/or pool"))
        }
        var matchers: [String: String] = [:]
        for (key, value) in rawMatchers {
            guard AlertManager.silenceLabels.contains(key) else {
                return .failure(Invalid(description: "unknown matcher '\(key)' (expected \(AlertManager.silenceLabels.joined(separator: ", ")))"))
            }
            guard let text = value as? String, !text.isEmpty, text.utf8.count <= 256 else {
                return .failure(Invalid(description: "matcher '\(key)' must be a non-empty string of at most 256 bytes"))
            }
            matchers[key] = text
        }
        func date(_ key: String) -> Result<Date?, Invalid> {
            guard let value = object[key] else { return .success(nil) }
            guard let text = value as? String, let date = try? Date(text, strategy: .iso8601) else {
                return .failure(Invalid(description: "'\(key)' must be an RFC 3339 time like 2026-12-24T22:00:00Z"))
            }
            return .success(date)
        }
        let starts: Date?, ends: Date?
        switch date("starts") { case .success(let value): starts = value; case .failure(let error): return .failure(error) }
        switch date("ends") { case .success(let value): ends = value; case .failure(let error): return .failure(error) }
        guard let ends else { return .failure(Invalid(description: "'ends' is required (RFC 3339)")) }
        if let starts, ends <= starts { return .failure(Invalid(description: "'ends' must be after 'starts'")) }
        guard let comment = object["comment"] as? String, !comment.trimmingCharacters(in: .whitespaces).isEmpty, comment.count <= 1000 else {
            return .failure(Invalid(description: "'comment' is required: say why nobody should be paged (at most 1000 characters)"))
        }
        let creator = (object["created-by"] ?? object["created_by"] ?? object["createdBy"]) as? String ?? "api"
        return .success(ParsedSilence(matchers: matchers, starts: starts, ends: ends, comment: comment, createdBy: String(creator.prefix(200))))
    }
}
