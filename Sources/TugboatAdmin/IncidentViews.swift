import Foundation
import Hummingbird
import TugboatCore
import TugboatStore

/// `GET /api/incidents[/{id}]` rows. Free text (summaries, errors) is redacted (``Redaction``).
struct IncidentView: ResponseEncodable, Sendable {
    var id: Int64
    var rule: String
    var target: String
    var state: IncidentState
    var summary: String
    var started_at: String
    var fired_at: String?
    var acknowledged_at: String?
    var resolved_at: String?
    /// Set on `GET /api/incidents/{id}`: every page sent for it.
    var notifications: [NotificationView]?
    /// URL of the crash flame graph, when one was captured.
    var flamegraph: String?
    /// The outage (`GET /api/outages`) it was paged in; its id is the `ACK` code.
    var outage: Int64?

    init(_ record: IncidentRecord, notifications: [NotificationRecord]? = nil) {
        id = record.id ?? 0
        rule = record.rule
        target = record.target
        state = record.state
        summary = Redaction.redact(record.summary)
        started_at = Timestamp.iso(record.startedAt)
        fired_at = record.firedAt.map(Timestamp.iso)
        acknowledged_at = record.acknowledgedAt.map(Timestamp.iso)
        resolved_at = record.resolvedAt.map(Timestamp.iso)
        outage = record.alertGroup
        self.notifications = notifications?.map(NotificationView.init)
    }
}

/// `GET /api/notifications` rows: `id, incident, channel, kind, status, attempts, provider_id`.
struct NotificationView: ResponseEncodable, Sendable {
    var id: Int64
    var incident: Int64
    var outage: Int64?
    var channel: String
    var recipient: String?
    var kind: NotificationKind
    var status: NotificationStatus
    var attempts: Int
    var provider_id: String?
    var error: String?
    var created_at: String
    var sent_at: String?

    init(_ record: NotificationRecord) {
        id = record.id ?? 0
        incident = record.incident
        outage = record.alertGroup
        channel = record.channel
        recipient = record.recipient
        kind = record.kind
        status = record.status
        attempts = record.attempts
        provider_id = record.providerID
        error = Redaction.redact(record.lastError)
        created_at = Timestamp.iso(record.createdAt)
        sent_at = record.sentAt.map(Timestamp.iso)
    }
}

enum Timestamp {
    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
