/// An event published by an observer (proxy, health checks) for consumers (alerts, scaling, profiling).
package enum Signal: Sendable, Equatable {
    /// A backend moved from one state to another.
    case backendStateChanged(address: HostPort, from: BackendState, to: BackendState, reason: String)
    /// A backend joined or left the pool.
    case backendAdded(HostPort)
    case backendRemoved(HostPort)
    /// Live traffic failed against a backend `count` times in a row (connect failure or 5xx).
    case passiveFailures(address: HostPort, consecutive: Int)
    /// A heartbeat monitor changed between up and down.
    case monitorChanged(name: String, up: Bool, reason: String)
    /// The scaler entered a state (`IDLE`, `BUSY`, `READY`, `UP`, `DRAINING`); `failed` marks a failed
    /// launch, stop or health check — alert-worthy.
    case scalingTransition(from: Int, to: Int, state: ScalingState, reason: String, failed: Bool)
    /// A scaled instance exited on its own.
    case instanceExited(address: HostPort, status: String)
    /// One second of traffic, published by the traffic meter.
    case traffic(TrafficSample)
    /// A certificate of the public listener was looked at: `expiresIn` is the time left (negative
    /// once expired). Published every few seconds for each certificate, by its first name.
    case certificateChecked(name: String, expiresIn: Duration)
}

/// Traffic over one interval (normally a second), in total and per backend.
package struct TrafficSample: Sendable, Equatable {
    package var interval: Duration
    package var requests: UInt64
    package var serverErrors: UInt64
    package var p99Seconds: Double
    package var perBackend: [HostPort: UInt64]
    /// 5xx answers per backend (backends without any are left out).
    package var serverErrorsByBackend: [HostPort: UInt64]
    /// Mean requests in flight over the interval: Little's law on the requests that finished in it
    /// (their summed latency / the interval), or the count in flight at its end when that is higher
    /// (long requests that have not finished yet).
    package var concurrency: Double

    package init(interval: Duration, requests: UInt64, serverErrors: UInt64, p99Seconds: Double,
                perBackend: [HostPort: UInt64], serverErrorsByBackend: [HostPort: UInt64] = [:], concurrency: Double = 0) {
        self.interval = interval
        self.requests = requests
        self.serverErrors = serverErrors
        self.p99Seconds = p99Seconds
        self.perBackend = perBackend
        self.serverErrorsByBackend = serverErrorsByBackend
        self.concurrency = concurrency
    }

    /// Requests per second over the interval.
    package var rate: Double { interval > .zero ? Double(requests) / interval.seconds : 0 }
}
