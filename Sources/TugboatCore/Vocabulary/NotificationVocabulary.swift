/// What a page says: the `kind` of `GET /api/notifications` and of the `notification` table.
package enum NotificationKind: String, WireVocabulary {
    /// An outage started.
    case trigger
    /// An incident joined an outage already paged.
    case update
    /// Still firing after `alerts.repeat`.
    case `repeat`
    /// Not acknowledged in time: the next step's channels.
    case escalation
    /// Someone acknowledged it.
    case acknowledge
    /// The outage is over.
    case resolve

    package static let vocabularyName = "notification kind"

    package init(from decoder: any Decoder) throws { self = try Self.decode(from: decoder) }
}

/// Where a page is in the outbox: the `status` of `GET /api/notifications`, of the `notification`
/// table and of `tugboat_notifications{status=…}`.
package enum NotificationStatus: String, WireVocabulary {
    /// To be delivered, or retried at its next attempt.
    case pending
    /// Delivered.
    case sent
    /// Given up: a permanent refusal or the attempts ran out.
    case failed
    /// Held by a silence or a maintenance window: kept in the history, never sent.
    case silenced

    package static let vocabularyName = "notification status"

    package init(from decoder: any Decoder) throws { self = try Self.decode(from: decoder) }
}
