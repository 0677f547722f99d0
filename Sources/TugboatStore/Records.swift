import Foundation
import GRDB
import TugboatCore

/// An incident as stored: one per rule and target while it lasts.
public struct IncidentRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "incident"

    public var id: Int64?
    public var rule: String
    /// What the incident is about: a monitor name, a backend address, or "pool".
    public var target: String
    public var state: IncidentState
    public var summary: String
    public var startedAt: Date
    public var firedAt: Date?
    public var acknowledgedAt: Date?
    public var resolvedAt: Date?
    /// Where the flame graph of the instance's last seconds is served (crash forensics), if any.
    public var flamegraph: String?
    /// The outage (``AlertGroupRecord``) this incident was paged in, once it fired.
    public var alertGroup: Int64?

    public init(rule: String, target: String, state: IncidentState, summary: String, startedAt: Date) {
        self.rule = rule
        self.target = target
        self.state = state
        self.summary = summary
        self.startedAt = startedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One message to one recipient on one channel: written before it is sent (the durable outbox).
public struct NotificationRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "notification"

    public var id: Int64?
    public var incident: Int64
    public var channel: String
    /// The outage this page is about (its id is the code a person replies `ACK <code>` with);
    /// nil for pages written before grouping existed.
    public var alertGroup: Int64?
    /// A phone number for Twilio channels; nil for the others.
    public var recipient: String?
    public var kind: NotificationKind
    public var status: NotificationStatus
    public var attempts: Int
    /// The provider's id for what it sent (Twilio's call or message SID).
    public var providerID: String?
    public var lastError: String?
    public var text: String
    public var createdAt: Date
    public var nextAttemptAt: Date
    public var sentAt: Date?

    public init(incident: Int64, channel: String, recipient: String?, kind: NotificationKind, text: String, at: Date) {
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

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension NotificationRecord {
    /// One outage's identity at a provider that deduplicates (PagerDuty's `dedup_key`, Opsgenie's
    /// `alias`): every page of one group carries the same key.
    public var pageKey: String {
        if let alertGroup { return "tugboat-group-\(alertGroup)" }
        return "tugboat-incident-\(incident)"
    }
}

/// One outage as paged: the incidents that started together (the same `alerts.group.by` labels
/// within `wait`) and those that joined it while it lasted. Its id is the acknowledgement code.
public struct AlertGroupRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "alertGroup"

    public var id: Int64?
    /// The grouping labels, e.g. `pool=default`.
    public var key: String
    /// `firing`, `acknowledged` or `resolved` (never `pending`).
    public var state: IncidentState
    /// The page's text: every incident of the outage in a few words.
    public var summary: String
    public var startedAt: Date
    public var firedAt: Date?
    public var acknowledgedAt: Date?
    /// Who acknowledged: `api`, or the phone number that replied.
    public var acknowledgedBy: String?
    public var resolvedAt: Date?
    /// Paged while silenced (a silence or a maintenance window): recorded, nobody called.
    public var silenced: Bool

    public init(key: String, state: IncidentState, summary: String, startedAt: Date, silenced: Bool = false) {
        self.key = key
        self.state = state
        self.summary = summary
        self.startedAt = startedAt
        self.silenced = silenced
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A silence (`POST /api/silences`): while it is active, incidents matching it page nobody.
public struct SilenceRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "silence"

    public var id: Int64?
    /// JSON object of label → value (`rule`, `target`, `pool`); every one must match.
    public var matchers: String
    public var startsAt: Date
    public var endsAt: Date
    public var comment: String
    public var createdBy: String
    public var createdAt: Date

    public init(matchers: String, startsAt: Date, endsAt: Date, comment: String, createdBy: String, createdAt: Date) {
        self.matchers = matchers
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.comment = comment
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
