import Foundation
import GRDB
import TugboatCore

/// An incident as stored: one per rule and target while it lasts.
package struct IncidentRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "incident"

    package var id: Int64?
    package var rule: String
    /// What the incident is about: a monitor name, a backend address, or "pool".
    package var target: String
    package var state: IncidentState
    package var summary: String
    package var startedAt: Date
    package var firedAt: Date?
    package var acknowledgedAt: Date?
    package var resolvedAt: Date?
    /// Where the flame graph of the instance's last seconds is served (crash forensics), if any.
    package var flamegraph: String?
    /// The outage (``AlertGroupRecord``) this incident was paged in, once it fired.
    package var alertGroup: Int64?

    package init(rule: String, target: String, state: IncidentState, summary: String, startedAt: Date) {
        self.rule = rule
        self.target = target
        self.state = state
        self.summary = summary
        self.startedAt = startedAt
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One message to one recipient on one channel: written before it is sent (the durable outbox).
package struct NotificationRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "notification"

    package var id: Int64?
    package var incident: Int64
    package var channel: String
    /// The outage this page is about (its id is the code a person replies `ACK <code>` with);
    /// nil for pages written before grouping existed.
    package var alertGroup: Int64?
    /// A phone number for Twilio channels; nil for the others.
    package var recipient: String?
    package var kind: NotificationKind
    package var status: NotificationStatus
    package var attempts: Int
    /// The provider's id for what it sent (Twilio's call or message SID).
    package var providerID: String?
    package var lastError: String?
    package var text: String
    package var createdAt: Date
    package var nextAttemptAt: Date
    package var sentAt: Date?

    package init(incident: Int64, channel: String, recipient: String?, kind: NotificationKind, text: String, at: Date) {
        self.incident = incident
        self.channel = channel
        self.recipient = recipient
        self.kind = kind
        self.status = .pending
        self.attempts = 0
        self.text = text
        self.createdAt = at
        self.nextAttemptAt = at
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension NotificationRecord {
    /// One outage's identity at a provider that deduplicates (PagerDuty's `dedup_key`, Opsgenie's
    /// `alias`): every page of one group carries the same key.
    package var pageKey: String {
        if let alertGroup { return "tugboat-group-\(alertGroup)" }
        return "tugboat-incident-\(incident)"
    }
}

/// One outage as paged: the incidents that started together (the same `alerts.group.by` labels
/// within `wait`) and those that joined it while it lasted. Its id is the acknowledgement code.
package struct AlertGroupRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "alertGroup"

    package var id: Int64?
    /// The grouping labels, e.g. `pool=default`.
    package var key: String
    /// `firing`, `acknowledged` or `resolved` (never `pending`).
    package var state: IncidentState
    /// The page's text: every incident of the outage in a few words.
    package var summary: String
    package var startedAt: Date
    package var firedAt: Date?
    package var acknowledgedAt: Date?
    /// Who acknowledged: `api`, or the phone number that replied.
    package var acknowledgedBy: String?
    package var resolvedAt: Date?
    /// Paged while silenced (a silence or a maintenance window): recorded, nobody called.
    package var silenced: Bool

    package init(key: String, state: IncidentState, summary: String, startedAt: Date, silenced: Bool = false) {
        self.key = key
        self.state = state
        self.summary = summary
        self.startedAt = startedAt
        self.silenced = silenced
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A silence (`POST /api/silences`): while it is active, incidents matching it page nobody.
package struct SilenceRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "silence"

    package var id: Int64?
    /// JSON object of label → value (`rule`, `target`, `pool`); every one must match.
    package var matchers: String
    package var startsAt: Date
    package var endsAt: Date
    package var comment: String
    package var createdBy: String
    package var createdAt: Date

    package init(matchers: String, startsAt: Date, endsAt: Date, comment: String, createdBy: String, createdAt: Date) {
        self.matchers = matchers
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.comment = comment
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
