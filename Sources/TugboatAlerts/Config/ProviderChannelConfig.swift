import TugboatCore

/// The SMTP server, credentials and addresses of an `email` channel.
package struct EmailConfig: Sendable, Equatable {
    /// How the connection is protected.
    package enum Security: String, Sendable, Equatable {
        /// `smtp://` with `starttls: false`: plaintext throughout.
        case plain
        /// `smtp://` (the default): STARTTLS before anything else is sent; refused if not offered.
        case startTLS = "starttls"
        /// `smtps://`: TLS from the first byte.
        case implicitTLS = "tls"
    }

    package var host: String
    package var port: Int
    package var security: Security
    package var username: String?
    package var password: Secret?
    package var from: String
    package var to: [String]
    /// A PEM file of extra trust roots (a private CA or a self-signed server certificate).
    package var caFile: String?

    package init(host: String, port: Int, security: Security, from: String, to: [String]) {
        self.host = host
        self.port = port
        self.security = security
        self.from = from
        self.to = to
    }
}

/// A `pagerduty` channel: one Events API v2 integration.
package struct PagerDutyConfig: Sendable, Equatable {
    package static let severities = ["critical", "error", "warning", "info"]

    package var routingKey: Secret
    /// Where the API lives; tests point it at a local contract server.
    package var apiBase: String = "https://events.pagerduty.com"
    /// `critical`, `error`, `warning` or `info`.
    package var severity: String = "critical"

    package init(routingKey: Secret) { self.routingKey = routingKey }
}

/// An `opsgenie` channel: one API integration's key.
package struct OpsgenieConfig: Sendable, Equatable {
    package static let priorities = ["P1", "P2", "P3", "P4", "P5"]

    package var apiKey: Secret
    /// Where the API lives (`https://api.eu.opsgenie.com` for EU accounts; tests use a contract server).
    package var apiBase: String = "https://api.opsgenie.com"
    /// `P1` (highest) to `P5`.
    package var priority: String = "P1"

    package init(apiKey: Secret) { self.apiKey = apiKey }
}
