import TugboatCore

/// `profiling:`: how crash flame graphs are captured (DESIGN.md `profiling: { source, rate, window }`).
package struct ProfilingSettings: Sendable, Equatable {
    package enum Source: String, Sendable, CaseIterable {
        /// Linux perf on the instance's process (native code).
        case perf
        /// py-spy on the instance's process (CPython).
        case pySpy = "py-spy"
        /// The instance's own `GET /debug/pprof/profile?seconds=N` (Go, or any pprof endpoint).
        case pprofURL = "pprof-url"
        /// The application posts folded stacks or pprof to the admin API.
        case push
    }

    package var source: Source
    /// Samples per second.
    package var rate: Int = 99
    /// How far back a capture reaches: the flame graph shows the last `window` before the trigger.
    package var window: Duration = .seconds(15)
    /// A burst of this many 5xx from one instance within a second triggers a capture.
    package var errorBurst: Int = 20
    /// `link-expiry`: a flame-graph link's key (in the page, so it opens from an SMS without the
    /// bearer token) stops working this long after its incident resolved.
    package var linkExpiry: Duration = Self.defaultLinkExpiry
    package static let defaultLinkExpiry: Duration = .seconds(24 * 3600)
    /// `max-body`: the largest profile taken as received (a push, a pprof-url fetch); 16 MiB.
    package var maxBody: Int = 16 << 20
    /// `max-decompressed`: the most a gzipped profile may inflate to; 64 MiB.
    package var maxDecompressed: Int = 64 << 20
    /// `push-token`: the credential an instance shows to push its stacks
    /// (`POST /api/instances/{address}/stacks`, `Authorization: Bearer …`), so an application
    /// never holds the admin token. Without it the push route takes the admin token.
    package var pushToken: Secret?

    package init(source: Source, rate: Int = 99, window: Duration = .seconds(15), errorBurst: Int = 20) {
        self.source = source
        self.rate = rate
        self.window = window
        self.errorBurst = errorBurst
    }
}
