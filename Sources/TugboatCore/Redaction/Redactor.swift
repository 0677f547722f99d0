import Foundation

/// The one redaction rule: what of a text may be a secret, and its replacement by `<redacted>`.
/// Pure. Every log line (``TugboatLogHandler``), error text (``ErrorText``, ``ConfigError``) and
/// API field that can carry a secret goes through it, by way of ``Redaction``.
///
/// Redacted:
/// - the secrets the config names (``TugboatConfig/secrets``: the admin token, Twilio auth tokens,
///   SMTP passwords, PagerDuty and Opsgenie keys, webhook and Slack URL paths, passwords in URLs),
///   as written and percent-encoded;
/// - the password of any URL's userinfo (`redis://:pass@host`, `https://user:pass@host`);
/// - `Bearer`, `Basic` and `Token` credentials;
/// - Slack (`/services/T…/B…/…`) and Discord (`/api/webhooks/ID/TOKEN`) webhook paths;
/// - query parameters named like a secret (`token`, `key`, `secret`, `password`, `signature`, …).
package struct Redactor: Sendable, Equatable {
    package static let mark = "<redacted>"
    /// Known secrets shorter than this are not searched for (they would hide ordinary words).
    package static let shortestSecret = 4

    /// Known secret strings, longest first (so a secret containing another is replaced whole).
    package private(set) var secrets: [String] = []

    package init(secrets: [String] = []) {
        remember(secrets)
    }

    /// Adds secrets to search for (their percent-encoded forms too); earlier ones stay.
    package mutating func remember(_ more: [String]) {
        var all = Set(secrets)
        for secret in more where secret.count >= Self.shortestSecret {
            all.insert(secret)
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .urlUnreserved), encoded != secret {
                all.insert(encoded)
            }
        }
        secrets = all.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    package func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: Self.mark)
        }
        for pattern in Self.patterns where pattern.hints.contains(where: { text.range(of: $0, options: .caseInsensitive) != nil }) {
            text = pattern.apply(to: text)
        }
        return text
    }

    /// A regular expression and its replacement; every match contains one of `hints` (any case),
    /// so most texts skip the expression.
    struct Pattern: Sendable {
        let hints: [String]
        let expression: NSRegularExpression
        let template: String

        init(hints: [String], _ pattern: String, _ template: String) {
            self.hints = hints
            // The patterns are constants: a mistake in one is a programming error.
            self.expression = try! NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
            self.template = template
        }

        func apply(to text: String) -> String {
            expression.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
    }

    static let patterns: [Pattern] = [
        // scheme://user:password@ — the user stays, the password goes (also with a slash missing).
        Pattern(hints: ["@"], #"([a-z][a-z0-9+.-]*:/{0,2}[^/\s:@"'<>\[\]]*):[^@\s/"'<>\[\]]*@"#, "$1:\(mark)@"),
        Pattern(hints: ["bearer ", "basic ", "token "], #"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+"#, "$1 \(mark)"),
        Pattern(hints: ["/services/"], #"/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"#, "/services/\(mark)"),
        Pattern(hints: ["/webhooks/"], #"/api/webhooks/[0-9]+/[A-Za-z0-9_-]+"#, "/api/webhooks/\(mark)"),
        Pattern(hints: ["="], #"([?&](?:[a-z_-]*token|[a-z_-]*key|secret|password|passwd|pwd|sig|signature|auth)=)[^&\s#"'<>]*"#, "$1\(mark)"),
    ]
}

extension CharacterSet {
    /// RFC 3986 unreserved characters: what percent-encoding leaves as it is.
    static let urlUnreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
