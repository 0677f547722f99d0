import TugboatCore

/// Everything the scaler needs, independent of how it was written in the config file.
///
/// The YAML `scaling:` section maps onto it one key to one field (`ConfigLoader.parseScaling`).
package struct ScalingSettings: Sendable, Equatable {
    /// Where new instances come from.
    package enum Provider: Sendable, Equatable {
        /// `command` with `{port}` substituted (and `PORT` in the environment), one port of `ports` each;
        /// `env` is added to the few variables every child gets (see `ChildEnvironment`).
        case process(command: String, ports: ClosedRange<Int>, env: [String: String] = [:])
        /// The user's scripts: `up` prints the new `host:port` as its last line; `down` gets it as `$1`;
        /// `env` as for `process`.
        case exec(up: String, down: String, timeout: Duration, env: [String: String] = [:])
        /// A container of `image` per instance, `port` published on 127.0.0.1 (Docker Engine API over `socket`).
        case docker(image: String, port: Int, socket: String)
        /// A Deployment scaled through its scale subresource; instances are the ready endpoints of
        /// `service`'s EndpointSlices (`KubernetesTarget`).
        case kubernetes(KubernetesTarget)

        /// `process`, `exec` or `docker`: the key under `scaling.provider`.
        package var kind: String {
            switch self {
            case .process: "process"
            case .exec: "exec"
            case .docker: "docker"
            case .kubernetes: "kubernetes"
            }
        }
    }

    /// How the desired instance count follows the rate.
    package enum Mode: Sendable, Equatable {
        /// desired = ceil(rate / targetRPS), with a dead band of `tolerance` (0.1: ±10 %) around the target.
        case targetTracking(targetRPS: Double)
        /// One instance more when the rate per instance is above `upRPS`, one less when below `downRPS`.
        case thresholds(upRPS: Double, downRPS: Double)
    }

    package var provider: Provider
    package var mode: Mode
    /// Requests in flight one instance is meant to carry (Knative's concurrency target), or nil.
    /// With it, desired is also at least ceil(concurrency / targetInflight), with the same dead band.
    package var targetInflight: Double?
    package var min: Int
    package var max: Int
    /// The stable rate is the mean rate over this window.
    package var window: Duration
    /// After a scale-up, no further (non-panic) scale-up for this long.
    package var cooldownUp: Duration
    /// Scale down only to the highest recommendation seen over this window (HPA's stabilisation).
    package var stabilizeDown: Duration
    /// The panic rate is the mean over this (short) window.
    package var panicWindow: Duration
    /// Panic when the panic rate is at least this many times the ready capacity (Knative: 2).
    package var panicThreshold: Double
    /// Dead band of target tracking (HPA's tolerance).
    package var tolerance: Double
    /// How long a draining instance may finish in-flight requests before it is stopped.
    package var drain: Duration
    /// With `min: 0`: how long without any request before the last instance goes.
    package var idleToZero: Duration
    /// How long a launched instance may take to pass its health check before it counts as failed.
    package var startTimeout: Duration
    /// Backoff of failed launches and stops: first delay, doubled per failure up to `retryMax`.
    package var retryFirst: Duration
    package var retryMax: Duration

    package init(
        provider: Provider,
        mode: Mode = .targetTracking(targetRPS: 50),
        targetInflight: Double? = nil,
        min: Int = 1,
        max: Int = 8,
        window: Duration = .seconds(10),
        cooldownUp: Duration = .seconds(5),
        stabilizeDown: Duration = .seconds(60),
        panicWindow: Duration = .seconds(2),
        panicThreshold: Double = 2,
        tolerance: Double = 0.1,
        drain: Duration = .seconds(30),
        idleToZero: Duration = .seconds(300),
        startTimeout: Duration = .seconds(60),
        retryFirst: Duration = .seconds(1),
        retryMax: Duration = .seconds(60)
    ) {
        self.provider = provider
        self.mode = mode
        self.targetInflight = targetInflight
        self.min = min
        self.max = max
        self.window = window
        self.cooldownUp = cooldownUp
        self.stabilizeDown = stabilizeDown
        self.panicWindow = panicWindow
        self.panicThreshold = panicThreshold
        self.tolerance = tolerance
        self.drain = drain
        self.idleToZero = idleToZero
        self.startTimeout = startTimeout
        self.retryFirst = retryFirst
        self.retryMax = retryMax
    }

    /// A problem that makes these settings unusable, or nil. The config loader can report it at the key.
    package var problem: String? {
        if min < 0 { return "min must be 0 or more" }
        if max < 1 { return "max must be at least 1" }
        if min > max { return "min (\(min)) is above max (\(max))" }
        switch mode {
        case .targetTracking(let target) where !(target > 0):
            return "target-rps must be above 0"
        case .thresholds(let up, let down) where !(up > 0) || down < 0 || down >= up:
            return "down-rps must be at least 0 and below up-rps"
        default: break
        }
        if let targetInflight, !(targetInflight > 0) { return "target-inflight must be above 0" }
        if window <= .zero { return "window must be above 0" }
        if panicWindow <= .zero || panicWindow > window { return "panic window must be above 0 and at most window" }
        if case .process(let command, let ports, _) = provider {
            if command.isEmpty { return "process command is empty" }
            if ports.lowerBound < 1 || ports.upperBound > 65535 { return "ports must lie in 1-65535" }
        }
        return nil
    }
}
