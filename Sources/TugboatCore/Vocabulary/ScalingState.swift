/// The scaler's visible state, as `GET /api/scaling/events` and the `scalingEvent` table name it.
package enum ScalingState: String, WireVocabulary {
    /// Nothing in progress, settled.
    case idle = "IDLE"
    /// A launch or stop in progress.
    case busy = "BUSY"
    /// A new instance passed its health check and joined the pool.
    case ready = "READY"
    /// Watching the rate again after a change.
    case up = "UP"
    /// An instance leaving, finishing in-flight work.
    case draining = "DRAINING"

    package static let vocabularyName = "scaling state"

    package init(from decoder: any Decoder) throws { self = try Self.decode(from: decoder) }
}
