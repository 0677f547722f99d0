import Foundation
import TugboatAlerts
import TugboatCore

extension TugboatConfig {
    /// Every secret the config holds, for ``Redaction``: the admin token, the channels' tokens,
    /// keys and passwords, the paths (and queries) of webhook and Slack URLs, and the passwords
    /// in any URL (the Redis `state`, monitors, channel URLs).
    package var secrets: [String] {
        var found: [String] = []
        if let token = admin.token { found.append(token.value) }
        var urls = [state, localState]
        for monitor in monitors {
            if case .http(let url, _, _) = monitor.target { urls.append(url) }
        }
        for channel in alerts.channels.values {
            switch channel {
            case .twilioCall(let twilio), .twilioSMS(let twilio):
                found.append(twilio.authToken.value)
                urls.append(twilio.apiBase)
            case .webhook(let url), .slack(let url):
                urls.append(url)
                found += Self.secretParts(ofHookURL: url)
            case .email(let email):
                if let password = email.password { found.append(password.value) }
            case .pagerDuty(let pagerDuty):
                found.append(pagerDuty.routingKey.value)
                urls.append(pagerDuty.apiBase)
            case .opsgenie(let opsgenie):
                found.append(opsgenie.apiKey.value)
                urls.append(opsgenie.apiBase)
            case .command, .log:
                break
            }
        }
        found += urls.compactMap(Self.password(inURL:))
        return found
    }

    /// The password of `scheme://user:password@host…`, if any.
    static func password(inURL text: String) -> String? {
        guard let scheme = text.range(of: "://") else { return nil }
        let authority = text[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return nil }
        let password = String(authority[authority.index(after: colon)..<at])
        return password.isEmpty ? nil : (password.removingPercentEncoding ?? password)
    }

    /// A webhook's URL is often its own credential (Slack, Discord, Teams, Zapier): the path
    /// segments that look like a key (16 characters or more, or 8 or more with a digit) and the
    /// query's values are secret. Short words (`/hook`, `/slack`) are not: they would hide
    /// ordinary words in every log line.
    static func secretParts(ofHookURL text: String) -> [String] {
        guard let url = URLComponents(string: text) else { return [] }
        var parts = url.percentEncodedPath.split(separator: "/").map(String.init).filter { segment in
            segment.count >= 16 || (segment.count >= 8 && segment.contains { $0.isNumber })
        }
        parts += (url.percentEncodedQueryItems ?? []).compactMap(\.value).filter { !$0.isEmpty }
        return parts
    }
}
