import Logging

// The sections Core owns: `admin`, `pool` (with `pool.tls`), `log`, `access-log` (the whole file is TugboatRuntime's
// `TugboatConfig`).

/// `admin:` — the admin listener, its optional bearer token and optional TLS.
package struct AdminConfig: Sendable, Equatable {
    package var listen: HostPort
    package var token: Secret?
    /// Where people reach the admin API (links in pages, e.g. a flame graph); nil: `http://<listen>`
    /// (`https://` with ``tls``).
    package var url: String?
    /// `admin.tls`: the admin listener speaks TLS (1.2 and 1.3) with these certificates.
    package var tls: AdminTLSSettings?

    /// `http` or `https`: what the admin listener speaks.
    package var scheme: String { tls == nil ? "http" : "https" }

    /// The base of links to the admin API: `url`, else the address it listens on (`bound`,
    /// `host:port`, known once it listens) with its scheme.
    package func baseURL(bound: String) -> String { url ?? "\(scheme)://\(bound)" }

    package init(listen: HostPort = HostPort(host: "127.0.0.1", port: 8081), token: Secret? = nil, url: String? = nil) {
        self.listen = listen
        self.token = token
        self.url = url
    }
}

/// `admin.tls: { certificates: [{ cert, key }] }`: PEM files, chosen by SNI as on the public
/// listener, re-read when they change and on SIGHUP.
package struct AdminTLSSettings: Sendable, Equatable {
    package var certificates: [CertificateFiles]

    package init(certificates: [CertificateFiles]) { self.certificates = certificates }
}

/// A value that must never be printed: its description is redacted.
package struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    package let value: String
    package init(_ value: String) { self.value = value }
    package var description: String { "<redacted>" }
    package var debugDescription: String { "<redacted>" }
}

/// How the proxy picks a backend.
package enum BalanceAlgorithm: String, Sendable, Equatable, CaseIterable {
    case roundRobin = "round-robin"
    /// Power of two choices over in-flight request counts.
    case leastRequest = "least-request"
}

/// `pool:` — the backends and how they are balanced, checked and timed out.
package struct PoolConfig: Sendable, Equatable {
    package var balance: BalanceAlgorithm = .roundRobin
    package var backends: [HostPort] = []
    package var health = HealthCheckConfig()
    package var passive = PassiveHealthConfig()
    package var retries: Int = 2
    package var timeouts = TimeoutConfig()
    package var drain: Duration = .seconds(30)
    /// `pool.tls`: the backends speak TLS (requests and health checks).
    package var tls: BackendTLSSettings?

    package init() {}

    /// The keys of `pool:` (`discover` is a Kubernetes Service: TugboatScaling's, kept beside the
    /// pool in `TugboatConfig.poolDiscover`).
    package static let keys = ["balance", "backends", "health", "passive", "retries", "timeouts", "drain", "tls", "discover"]
}

/// `pool.tls: { verify, ca, sni }`.
package struct BackendTLSSettings: Sendable, Equatable {
    /// Check the backend's certificate (against `ca`, else the system's roots) and its name.
    package var verify = true
    /// PEM file of the roots that sign the backends' certificates.
    package var ca: String?
    /// Where `ca` is set in the config file, for errors found when it is loaded.
    package var caLine = 0
    /// The name sent in SNI and checked in the certificate; without it, a backend's host name (an
    /// IP address is checked against the certificate's IP addresses and not sent).
    package var sni: String?

    package init() {}
}

/// `pool.health:` — active checks, as HAProxy's `inter`, `timeout check`, `rise`, `fall`.
package struct HealthCheckConfig: Sendable, Equatable {
    /// HTTP path to GET (2xx is healthy); nil means a TCP connect check.
    package var path: String? = "/health"
    package var interval: Duration = .seconds(2)
    package var timeout: Duration = .seconds(1)
    package var rise: Int = 2
    package var fall: Int = 3

    package init() {}
}

/// `pool.passive:` — outlier detection on live traffic.
package struct PassiveHealthConfig: Sendable, Equatable {
    /// Consecutive connect failures or 5xx that eject a backend; 0 disables.
    package var failures: Int = 5
    /// First ejection time; doubles on each repeat, capped at ``maxEjection``.
    package var ejection: Duration = .seconds(30)
    package var maxEjection: Duration = .seconds(300)

    package init() {}
}

/// `pool.timeouts:`.
package struct TimeoutConfig: Sendable, Equatable {
    /// Establishing a connection to a backend.
    package var connect: Duration = .seconds(2)
    /// Receiving a client's complete request head, from its first byte (slowloris).
    package var header: Duration = .seconds(10)
    /// The whole exchange with the backend, until the response is complete.
    package var request: Duration = .seconds(60)
    /// A keep-alive connection (client or backend) with nothing to do.
    package var idle: Duration = .seconds(75)

    package init() {}
}

/// `log:`: how Tugboat's own log lines are written.
package struct LogSettings: Sendable, Equatable {
    package var format: LogFormat = .text
    /// nil: `info` (or `TUGBOAT_LOG_LEVEL`).
    package var level: Logger.Level?

    package init(format: LogFormat = .text, level: Logger.Level? = nil) {
        self.format = format
        self.level = level
    }

    /// `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`; anything else is nil.
    package static func level(named name: String) -> Logger.Level? { Logger.Level(rawValue: name.lowercased()) }
    package static let levelNames = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
}

/// `access-log:`: where the proxy writes one line per request, and how.
package struct AccessLogSettings: Sendable, Equatable {
    /// A file (created 0640 if new, appended to, reopened on SIGUSR1), or `-` for standard output.
    package var path: String
    package var format: AccessLogFormat
    /// Where `path` is set in the config file, for the error when it cannot be opened.
    package var pathLine = 0

    package init(path: String, format: AccessLogFormat = .combined) {
        self.path = path
        self.format = format
    }

    /// `path: "-"`.
    package var isStandardOutput: Bool { path == "-" }
}

/// `access-log.format`: `combined` (Apache/nginx Combined Log Format, Tugboat's fields appended)
/// or `json` (one object per line).
package enum AccessLogFormat: String, Sendable, Equatable, CaseIterable {
    case combined, json
}
