import Logging

// The sections Core owns: `admin`, `pool` (with `pool.tls`), `log`, `access-log` (the whole file is TugboatRuntime's
// `TugboatConfig`).

/// `admin:` — the admin listener and its optional bearer token.
public struct AdminConfig: Sendable, Equatable {
    public var listen: HostPort
    public var token: Secret?
    /// Where people reach the admin API (links in pages, e.g. a flame graph); nil: `http://<listen>`.
    public var url: String?

    public init(listen: HostPort = HostPort(host: "127.0.0.1", port: 8081), token: Secret? = nil, url: String? = nil) {
        self.listen = listen
        self.token = token
        self.url = url
    }
}

/// A value that must never be printed: its description is redacted.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// How the proxy picks a backend.
public enum BalanceAlgorithm: String, Sendable, Equatable, CaseIterable {
    case roundRobin = "round-robin"
    /// Power of two choices over in-flight request counts.
    case leastRequest = "least-request"
}

/// `pool:` — the backends and how they are balanced, checked and timed out.
public struct PoolConfig: Sendable, Equatable {
    public var balance: BalanceAlgorithm = .roundRobin
    public var backends: [HostPort] = []
    public var health = HealthCheckConfig()
    public var passive = PassiveHealthConfig()
    public var retries: Int = 2
    public var timeouts = TimeoutConfig()
    public var drain: Duration = .seconds(30)
    /// `pool.tls`: the backends speak TLS (requests and health checks).
    public var tls: BackendTLSSettings?

    public init() {}

    /// The keys of `pool:` (`discover` is a Kubernetes Service: TugboatScaling's, kept beside the
    /// pool in `TugboatConfig.poolDiscover`).
    package static let keys = ["balance", "backends", "health", "passive", "retries", "timeouts", "drain", "tls", "discover"]
}

/// `pool.tls: { verify, ca, sni }`.
public struct BackendTLSSettings: Sendable, Equatable {
    /// Check the backend's certificate (against `ca`, else the system's roots) and its name.
    public var verify = true
    /// PEM file of the roots that sign the backends' certificates.
    public var ca: String?
    /// Where `ca` is set in the config file, for errors found when it is loaded.
    public var caLine = 0
    /// The name sent in SNI and checked in the certificate; without it, a backend's host name (an
    /// IP address is checked against the certificate's IP addresses and not sent).
    public var sni: String?

    public init() {}
}

/// `pool.health:` — active checks, as HAProxy's `inter`, `timeout check`, `rise`, `fall`.
public struct HealthCheckConfig: Sendable, Equatable {
    /// HTTP path to GET (2xx is healthy); nil means a TCP connect check.
    public var path: String? = "/health"
    public var interval: Duration = .seconds(2)
    public var timeout: Duration = .seconds(1)
    public var rise: Int = 2
    public var fall: Int = 3

    public init() {}
}

/// `pool.passive:` — outlier detection on live traffic.
public struct PassiveHealthConfig: Sendable, Equatable {
    /// Consecutive connect failures or 5xx that eject a backend; 0 disables.
    public var failures: Int = 5
    /// First ejection time; doubles on each repeat, capped at ``maxEjection``.
    public var ejection: Duration = .seconds(30)
    public var maxEjection: Duration = .seconds(300)

    public init() {}
}

/// `pool.timeouts:`.
public struct TimeoutConfig: Sendable, Equatable {
    /// Establishing a connection to a backend.
    public var connect: Duration = .seconds(2)
    /// Receiving a client's complete request head, from its first byte (slowloris).
    public var header: Duration = .seconds(10)
    /// The whole exchange with the backend, until the response is complete.
    public var request: Duration = .seconds(60)
    /// A keep-alive connection (client or backend) with nothing to do.
    public var idle: Duration = .seconds(75)

    public init() {}
}

/// `log:`: how Tugboat's own log lines are written.
public struct LogSettings: Sendable, Equatable {
    public var format: LogFormat = .text
    /// nil: `info` (or `TUGBOAT_LOG_LEVEL`).
    public var level: Logger.Level?

    public init(format: LogFormat = .text, level: Logger.Level? = nil) {
        self.format = format
        self.level = level
    }

    /// `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`; anything else is nil.
    public static func level(named name: String) -> Logger.Level? { Logger.Level(rawValue: name.lowercased()) }
    public static let levelNames = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
}

/// `access-log:`: where the proxy writes one line per request, and how.
public struct AccessLogSettings: Sendable, Equatable {
    /// A file (created 0640 if new, appended to, reopened on SIGUSR1), or `-` for standard output.
    public var path: String
    public var format: AccessLogFormat
    /// Where `path` is set in the config file, for the error when it cannot be opened.
    public var pathLine = 0

    public init(path: String, format: AccessLogFormat = .combined) {
        self.path = path
        self.format = format
    }

    /// `path: "-"`.
    public var isStandardOutput: Bool { path == "-" }
}

/// `access-log.format`: `combined` (Apache/nginx Combined Log Format, Tugboat's fields appended)
/// or `json` (one object per line).
public enum AccessLogFormat: String, Sendable, Equatable, CaseIterable {
    case combined, json
}
