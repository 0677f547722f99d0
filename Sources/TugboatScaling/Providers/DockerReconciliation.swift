import Foundation

/// Which of the docker provider's containers died while its events stream was down: run on every
/// (re)connect of `GET /events`, after the stream is open, against `GET /containers/json?all=1`
/// of the pool's label. A known container that is listed `exited`, `dead` or `removing`, or not
/// listed at all (removed), died; `running`, `paused`, `restarting` and `created` ones did not,
/// nor does any state docker may add later. Pure: the provider does the requests and reports
/// each death as its `die` event would have been.
enum DockerReconciliation {
    /// A known container that is no longer running.
    struct Death: Equatable, Sendable {
        var id: String
        /// The listed `State` (`exited`, `dead`, `removing`), or nil when the container is gone.
        var state: String?
    }

    /// The states of a container that has stopped for good.
    static let stoppedStates: Set<String> = ["exited", "dead", "removing"]

    /// The known containers (by id) that are not running according to `listed` (id → `State`),
    /// sorted by id. `known` must be read before the list was asked for: a container launched
    /// after the list is in no listing yet and must not be judged by it.
    static func deaths(known: Set<String>, listed: [String: String]) -> [Death] {
        known.sorted().compactMap { id in
            guard let state = listed[id] else { return Death(id: id, state: nil) }
            return stoppedStates.contains(state) ? Death(id: id, state: state) : nil
        }
    }

    /// Id → `State` of a `GET /containers/json` answer.
    static func listedStates(_ body: Data) throws -> [String: String] {
        guard let containers = try? JSONSerialization.jsonObject(with: body) as? [[String: Any]] else {
            throw ProviderError("docker container list: not a JSON array of containers")
        }
        var states: [String: String] = [:]
        for container in containers {
            guard let id = container["Id"] as? String else {
                throw ProviderError("docker container list: a container without an Id")
            }
            // Unknown when missing: not a death (only stopped states and absence are).
            states[id] = container["State"] as? String ?? "unknown"
        }
        return states
    }

    /// The exit status of a stopped container from its `GET /containers/{id}/json` answer
    /// (`State.ExitCode`), as its `die` event would carry it; nil when the answer has none.
    static func exitCode(inspected body: Data) -> Int32? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let state = object["State"] as? [String: Any],
              let code = state["ExitCode"] as? Int
        else { return nil }
        return Int32(clamping: code)
    }
}

/// Whether the docker events stream is down, for logging an outage once when it begins and once
/// when it ends rather than once per reconnect attempt. Pure: the time comes in.
struct StreamOutage: Sendable {
    /// When the current outage began (the first failure after the stream was up, or at start).
    private(set) var downSince: ContinuousClock.Instant?
    /// Failed attempts (connects, or a stream that broke) in the current outage.
    private(set) var failures = 0

    var isDown: Bool { downSince != nil }

    /// A connect failed or the stream broke. True when this begins an outage (say so once).
    mutating func failed(at now: ContinuousClock.Instant) -> Bool {
        failures += 1
        guard downSince == nil else { return false }
        downSince = now
        return true
    }

    /// The stream is open (and reconciled) again: how long it was down and how many attempts
    /// failed, when it was down; nil when there was no outage.
    mutating func connected(at now: ContinuousClock.Instant) -> (downFor: Duration, failures: Int)? {
        defer { downSince = nil; failures = 0 }
        guard let downSince else { return nil }
        return (now - downSince, failures)
    }
}
