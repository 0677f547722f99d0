import Foundation
import GRDB

/// An incident as stored: one per rule and target while it lasts.
public struct IncidentRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "incident"

    public var id: Int64?
    public var rule: String
    /// What the incident is about: a monitor name, a backend address, or "pool".
    public var target: String
    /// `pending`, `firing`, `acknowledged` or `resolved`.
    public var state: String
    public var summary: String
    public var startedAt: Date
    public var firedAt: Date?
    public var acknowledgedAt: Date?
    public var resolvedAt: Date?
    /// Where the flame graph of the instance's last seconds is served (crash forensics), if any.
    public var flamegraph: String?

    public init(rule: String, target: String, state: String, summary: String, startedAt: Date) {
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
    /// A phone number for Twilio channels; nil for the others.
    public var recipient: String?
    /// `trigger`, `resolve`, `repeat` or `escalation`.
    public var kind: String
    /// `pending`, `sent` or `failed`.
    public var status: String
    public var attempts: Int
    /// The provider's id for what it sent (Twilio's call or message SID).
    public var providerID: String?
    public var lastError: String?
    public var text: String
    public var createdAt: Date
    public var nextAttemptAt: Date
    public var sentAt: Date?

    public init(incident: Int64, channel: String, recipient: String?, kind: String, text: String, at: Date) {
        self.incident = incident
        self.channel = channel
        self.recipient = recipient
        self.kind = kind
        self.status = "pending"
        self.attempts = 0
        self.text = text
        self.createdAt = at
        self.nextAttemptAt = at
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
