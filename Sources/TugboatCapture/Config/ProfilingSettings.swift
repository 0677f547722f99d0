import TugboatCore

/// `profiling:`: how crash flame graphs are captured (DESIGN.md `profiling: { source, rate, window }`).
public struct ProfilingSettings: Sendable, Equatable {
    public enum Source: String, Sendable, CaseIterable {
        /// Linux perf on the instance's process (native code).
        case perf
        /// py-spy on the instance's process (CPython).
        case pySpy = "py-spy"
        /// The instance's own `GET /debug/pprof/profile?seconds=N` (Go, or any pprof endpoint).
        case pprofURL = "pprof-url"
        /// The application posts folded stacks or pprof to the admin API.
        case push
    }

    public var source: Source
    /// Samples per second.
    public var rate: Int = 99
    /// How far back a capture reaches: the flame graph shows the last `window` before the trigger.
    public var window: Duration = .seconds(15)
    /// A burst of this many 5xx from one instance within a second triggers a capture.
    public var errorBurst: Int = 20
    /// `link-expiry`: a flame-graph link's key (in the page, so it opens from an SMS without the
    /// bearer token) stops working this long after its incident resolved.
    public var linkExpiry: Duration = Self.defaultLinkExpiry
    public static let defaultLinkExpiry: Duration = .seconds(24 * 3600)
    /// `max-body`: the largest profile taken as received (a push, a pprof-url fetch); 16 MiB.
    public var maxBody: Int = 16 << 20
    /// `max-decompressed`: the most a gzipped profile may inflate to; 64 MiB.
    public var maxDecompressed: Int = 64 << 20
    /// `push-token`: the credential an instance shows to push its stacks
    /// (`POST /api/instances/{address}/stacks`, `Authorization: Bearer …`), so an application
    /// never holds the admin token. Without it the push route takes the admin token.
    public var pushToken: Secret?

    public init(source: Source, rate: Int = 99, window: Duration = .seconds(15), errorBurst: Int = 20) {
        self.source = source
        self.rate = rate
        self.window = window
        self.errorBurst = errorBurst
    }
}
