import Foundation
import TugboatCore

// Parsing of the `email`, `pagerduty` and `opsgenie` channels under `alerts.channels`.
extension ConfigLoader {
    package static func parseEmail(_ value: YAMLValue) throws -> EmailConfig {
        let keys = try value.mapping(allowed: ["smtp", "starttls", "username", "password", "from", "to", "ca"])
        func required(_ key: String) throws -> YAMLValue {
            guard let field = keys[key] else { throw value.error("'\(value.key).\(key)' is required") }
            return field
        }
        let smtpValue = try required("smtp")
        let (server, implicitTLS) = try smtpServer(smtpValue)
        var security: EmailConfig.Security = implicitTLS ? .implicitTLS : .startTLS
        if let starttls = keys["starttls"] {
            let wanted = try starttls.bool()
            if implicitTLS && wanted {
                throw starttls.error("'\(starttls.key)' does not apply to smtps:// (TLS from the first byte); use smtp:// for STARTTLS")
            }
            if !implicitTLS && !wanted { security = .plain }
        }
        let fromValue = try required("from")
        let from = try emailAddress(fromValue)
        let toValue = try required("to")
        let to: [String]
        if case .sequence = toValue.node {
            to = try toValue.sequence().map(emailAddress)
        } else {
            to = [try emailAddress(toValue)]
        }
        guard !to.isEmpty else { throw toValue.error("'\(toValue.key)' needs at least one address") }
        var email = EmailConfig(host: server.host, port: server.port, security: security, from: from, to: to)
        switch (keys["username"], keys["password"]) {
        case (nil, nil):
            break
        case (let user?, let password?):
            email.username = try nonEmpty(user)
            email.password = Secret(try nonEmpty(password))
        case (_?, nil):
            throw value.error("'\(value.key).username' needs 'password' too")
        case (nil, _?):
            throw value.error("'\(value.key).password' needs 'username' too")
        }
        if let ca = keys["ca"] {
            let path = try ca.string()
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ca.error("'\(ca.key)': cannot read the CA file '\(path)'")
            }
            email.caFile = path
        }
        return email
    }

    package static func parsePagerDuty(_ value: YAMLValue) throws -> PagerDutyConfig {
        let keys = try value.mapping(allowed: ["routing-key", "api-base", "severity"])
        guard let keyValue = keys["routing-key"] else { throw value.error("'\(value.key).routing-key' is required") }
        var pagerDuty = PagerDutyConfig(routingKey: Secret(try nonEmpty(keyValue)))
        if let base = keys["api-base"] { pagerDuty.apiBase = try apiBase(base) }
        if let severity = keys["severity"] {
            let text = try severity.string()
            guard PagerDutyConfig.severities.contains(text) else {
                throw severity.error("'\(severity.key)' must be one of \(PagerDutyConfig.severities.joined(separator: ", ")), got '\(text)'")
            }
            pagerDuty.severity = text
        }
        return pagerDuty
    }

    package static func parseOpsgenie(_ value: YAMLValue) throws -> OpsgenieConfig {
        let keys = try value.mapping(allowed: ["api-key", "api-base", "priority"])
        guard let keyValue = keys["api-key"] else { throw value.error("'\(value.key).api-key' is required") }
        var opsgenie = OpsgenieConfig(apiKey: Secret(try nonEmpty(keyValue)))
        if let base = keys["api-base"] { opsgenie.apiBase = try apiBase(base) }
        if let priority = keys["priority"] {
            let text = try priority.string()
            guard OpsgenieConfig.priorities.contains(text) else {
                throw priority.error("'\(priority.key)' must be one of P1 to P5, got '\(text)'")
            }
            opsgenie.priority = text
        }
        return opsgenie
    }

    /// `smtp://host[:port]` (port 25) or `smtps://host[:port]` (port 465); true for smtps.
    private static func smtpServer(_ value: YAMLValue) throws -> (HostPort, implicitTLS: Bool) {
        let text = try value.string()
        let implicitTLS: Bool
        var authority: Substring
        if text.hasPrefix("smtp://") {
            implicitTLS = false
            authority = text.dropFirst("smtp://".count)
        } else if text.hasPrefix("smtps://") {
            implicitTLS = true
            authority = text.dropFirst("smtps://".count)
        } else {
            throw value.error("'\(value.key)' must be an smtp:// or smtps:// URL, got '\(text)'")
        }
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains("@") else {
            throw value.error("'\(value.key)': put the credentials in 'username' and 'password', not in the URL")
        }
        let hasPort = authority.hasSuffix("]") ? false : authority.contains(":")
        let withPort = hasPort ? String(authority) : "\(authority):\(implicitTLS ? 465 : 25)"
        guard !authority.contains("/"), !authority.contains("?"), let server = HostPort(parsing: withPort) else {
            throw value.error("'\(value.key)' must be smtp://host[:port] or smtps://host[:port], got '\(text)'")
        }
        return (server, implicitTLS)
    }

    /// A bare address `local@domain`, ASCII, without spaces, angle brackets or a display name.
    private static func emailAddress(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        let forbidden = Set("<>()[],;:\\\" ")
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              text.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue.map { $0 >= 0x21 && $0 < 0x7f } == true && !forbidden.contains($0) }),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".")
        else {
            throw value.error("'\(value.key)' must be an email address like oncall@example.com, got '\(text)'")
        }
        return text
    }

    private static func apiBase(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), text.count > "https://".count - 1 else {
            throw value.error("'\(value.key)' must be an http:// or https:// URL, got '\(text)'")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    private static func nonEmpty(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw value.error("'\(value.key)' is empty") }
        return text
    }
}
