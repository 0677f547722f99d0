/// Where an incident — and an outage, which is never `pending` — stands: the `state` of
/// `GET /api/incidents`, the `incident` and `alertGroup` tables, and the open-incidents mirror in Redis.
package enum IncidentState: String, WireVocabulary {
    /// The condition holds, but not yet for the rule's `for`.
    case pending
    /// Paged.
    case firing
    /// Someone took it (API, SMS reply, key press); repeats and escalation stop.
    case acknowledged
    /// The condition cleared.
    case resolved

    package static let vocabularyName = "incident state"

    package init(from decoder: any Decoder) throws { self = try Self.decode(from: decoder) }
}
