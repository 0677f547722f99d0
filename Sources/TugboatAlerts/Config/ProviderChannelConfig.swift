import TugboatCore

/// The SMTP server, credentials and addresses of an `email` channel.
public struct EmailConfig: Sendable, Equatable {
    /// How the connection is protected.
    public enum Security: String, Sendable, Equatable {
        /// `smtp://` with `starttls: false`: plaintext throughout.
        case plain
        /// `smtp://` (the default): STARTTLS before anything else is sent; refused if not offered.
        case startTLS = "starttls"
        /// `smtps://`: TLS from the first byte.
        case implicitTLS = "tls"
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: Secret?
    public var from: String
    public var to: [String]
    /// A PEM file of extra trust roots (a private CA or a self-signed server certificate).
    public var caFile: String?

    public init(host: String, port: Int, security: Security, from: String, to: [String]) {
        self.host = host
        self.port = port
        self.security = security
        self.from = from
        self.to = to
    }
}

/// A `pagerduty` channel: one Events API v2 integration.
public struct PagerDutyConfig: Sendable, Equatable {
    public static let severities = ["critical", "error", "warning", "info"]

    public var routingKey: Secret
    /// Where the API lives; tests point it at a local contract server.
    public var apiBase: String = "https://events.pagerduty.com"
    /// `critical`, `error`, `warning` or `info`.
    public var severity: String = "critical"

    public init(routingKey: Secret) { self.routingKey = routingKey }
}

/// An `opsgenie` channel: one API integration's key.
public struct OpsgenieConfig: Sendable, Equatable {
    public static let priorities = ["P1", "P2", "P3", "P4", "P5"]

    public var apiKey: Secret
    /// Where the API lives (`https://api.eu.opsgenie.com` for EU accounts; tests use a contract server).
    public var apiBase: String = "https://api.opsgenie.com"
    /// `P1` (highest) to `P5`.
    public var priority: String = "P1"

    public init(apiKey: Secret) { self.apiKey = apiKey }
}
