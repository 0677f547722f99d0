import TugboatCore

// Parsing of `alerts.channels`.
extension ConfigLoader {
    package static func parseChannel(_ value: YAMLValue) throws -> ChannelConfig {
        let kinds = ["twilio-call", "twilio-sms", "webhook", "slack", "command", "log", "email", "pagerduty", "opsgenie"]
        let keys = try value.mapping(allowed: kinds)
        guard keys.count == 1, let (kind, body) = keys.first else {
            throw value.error("'\(value.key)' needs exactly one of: \(kinds.joined(separator: ", "))")
        }
        switch kind {
        case "twilio-call": return .twilioCall(try parseTwilio(body))
        case "twilio-sms": return .twilioSMS(try parseTwilio(body))
        case "email": return .email(try parseEmail(body))
        case "pagerduty": return .pagerDuty(try parsePagerDuty(body))
        case "opsgenie": return .opsgenie(try parseOpsgenie(body))
        case "webhook", "slack":
            let fields = try body.mapping(allowed: ["url"])
            guard let url = fields["url"] else { throw body.error("'\(body.key).url' is required") }
            let text = try url.string()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw url.error("'\(url.key)' must be an http:// or https:// URL, got '\(text)'")
            }
            return kind == "webhook" ? .webhook(url: text) : .slack(url: text)
        case "command":
            let fields = try body.mapping(allowed: ["run", "env"])
            guard let run = fields["run"] else { throw body.error("'\(body.key).run' is required") }
            let argv: [String]
            if case .sequence = run.node {
                argv = try run.sequence().map { try $0.string() }
            } else {
                argv = ["/bin/sh", "-c", try run.string()]
            }
            guard !argv.isEmpty else { throw run.error("'\(run.key)' is empty") }
            return .command(argv, env: try fields["env"].map(parseEnvironment) ?? [:])
        default:
            return .log
        }
    }

    package static func parseTwilio(_ value: YAMLValue) throws -> TwilioConfig {
        let keys = try value.mapping(allowed: ["account-sid", "auth-token", "from", "to", "api-base", "status-callback"])
        func required(_ key: String) throws -> YAMLValue {
            guard let field = keys[key] else { throw value.error("'\(value.key).\(key)' is required") }
            return field
        }
        let sidValue = try required("account-sid")
        let sid = try sidValue.string()
        guard sid.hasPrefix("AC"), sid.count == 34, sid.dropFirst(2).allSatisfy(\.isHexDigit) else {
            throw sidValue.error("'\(sidValue.key)' must be a Twilio account SID: AC followed by 32 hex digits")
        }
        let token = try required("auth-token").string()
        guard !token.isEmpty else { throw try required("auth-token").error("'\(value.key).auth-token' is empty") }
        let fromValue = try required("from")
        let from = try phoneNumber(fromValue)
        let toValue = try required("to")
        let to: [String]
        if case .sequence = toValue.node {
            to = try toValue.sequence().map(phoneNumber)
        } else {
            to = [try phoneNumber(toValue)]
        }
        guard !to.isEmpty else { throw toValue.error("'\(toValue.key)' needs at least one number") }
        var twilio = TwilioConfig(accountSID: sid, authToken: Secret(token), from: from, to: to)
        if let base = keys["api-base"] {
            let text = try base.string()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw base.error("'\(base.key)' must be an http:// or https:// URL, got '\(text)'")
            }
            twilio.apiBase = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        if let callback = keys["status-callback"] { twilio.statusCallback = try callback.string() }
        return twilio
    }

    private static func phoneNumber(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        guard text.hasPrefix("+"), text.count >= 8, text.count <= 16, text.dropFirst().allSatisfy(\.isNumber) else {
            throw value.error("'\(value.key)' must be a phone number in E.164 form like +14155550100, got '\(text)'")
        }
        return text
    }
}
