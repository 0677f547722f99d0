import Foundation
import TugboatCore

/// One row of `GET /api/scaling/events`: `{"at","from","to","state","reason"}` (plus `failed`).
package struct ScalingEventRecord: Sendable, Equatable, Codable {
    package var at: Date
    package var from: Int
    package var to: Int
    package var state: ScalingState
    package var reason: String
    /// A failed launch, stop or health check, or an instance that exited on its own.
    package var failed: Bool

    package init(at: Date, transition: ScalingTransition) {
        self.at = at
        self.from = transition.from
        self.to = transition.to
        self.state = transition.state
        self.reason = transition.reason
        self.failed = transition.failed
    }

    private enum CodingKeys: String, CodingKey { case at, from, to, state, reason, failed }

    /// `at` is written as ISO 8601 with milliseconds, whatever the encoder's date strategy.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(at.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)), forKey: .at)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(state, forKey: .state)
        try container.encode(reason, forKey: .reason)
        try container.encode(failed, forKey: .failed)
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .at)
        guard let date = try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: container, debugDescription: "not ISO 8601: \(text)")
        }
        at = date
        from = try container.decode(Int.self, forKey: .from)
        to = try container.decode(Int.self, forKey: .to)
        state = try container.decode(ScalingState.self, forKey: .state)
        reason = try container.decode(String.self, forKey: .reason)
        failed = try container.decodeIfPresent(Bool.self, forKey: .failed) ?? false
    }
}

/// What the scaler tells its listeners (admin API, alerts, crash capture).
package enum ScalingNotice: Sendable, Equatable {
    /// A state transition: the row just appended to the event log.
    case transition(ScalingEventRecord)
    /// A failed launch, stop or health check: alert-worthy.
    case alert(String)
    /// An instance exited on its own (the `instance-exited` condition; crash capture).
    case instanceExited(InstanceExit)
}
