import Foundation
import TugboatCore

// Parsing of `tls:` (the public listener). The files are checked here for what needs no TLS library (present, readable,
// a key not readable by everyone); `CertificateBook` in TugboatProxy parses them and reports
// what is wrong inside at the same `FILE:LINE`.
extension ConfigLoader {
    package static func parseTLS(_ value: YAMLValue) throws -> TLSSettings {
        let keys = try value.mapping(allowed: ["certificates", "acme", "redirect", "http2", "http2-max-streams", "ocsp-stapling"])
        guard keys["certificates"] != nil || keys["acme"] != nil else {
            throw value.error("'\(value.key)' needs 'certificates' (a list of { cert, key } PEM files) or 'acme'")
        }
        let http2 = try keys["http2"]?.bool() ?? true
        let maxStreams = try keys["http2-max-streams"]?.int(range: 1...10_000) ?? 100
        let directory = (value.file as NSString).deletingLastPathComponent
        let redirect = try keys["redirect"]?.hostPort(allowPortZero: true)
        let acme = try keys["acme"].map { try parseACME($0, directory: directory) }
        if let acmeValue = keys["acme"], redirect == nil, acme?.challenge == .http01 {
            throw acmeValue.error("'\(acmeValue.key)' needs 'tls.redirect' (a plain-HTTP listener, port 80 in production): HTTP-01 challenges are answered there (or set 'challenge: tls-alpn-01')")
        }
        var settings = TLSSettings(certificates: [], acme: acme, redirect: redirect)
        settings.http2 = http2
        settings.http2MaxStreams = maxStreams
        settings.ocspStapling = try keys["ocsp-stapling"]?.bool() ?? true
        guard let list = keys["certificates"] else { return settings }
        settings.certificates = try parseCertificateList(list, relativeTo: directory)
        return settings
    }

    private static func parseACME(_ value: YAMLValue, directory: String) throws -> TLSSettings.ACME {
        let keys = try value.mapping(allowed: ["directory", "email", "domains", "ca", "challenge"])
        guard let directoryValue = keys["directory"], let emailValue = keys["email"], let domainsValue = keys["domains"] else {
            throw value.error("'\(value.key)' needs 'directory', 'email' and 'domains'")
        }
        let url = try directoryValue.string()
        guard let parsed = URLComponents(string: url), parsed.scheme == "https", parsed.host?.isEmpty == false else {
            throw directoryValue.error("'\(directoryValue.key)' must be an https:// URL, got '\(url)'")
        }
        let email = try emailValue.string()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              email.utf8.count <= 254, email.allSatisfy({ !$0.isWhitespace && $0 != "," && $0 != ":" && $0 != "<" && $0 != ">" }) else {
            throw emailValue.error("'\(emailValue.key)' must be an email address, got '\(email)'")
        }
        var domains: [String] = []
        for item in try domainsValue.sequence() {
            let name = try item.string().lowercased()
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            guard name.utf8.count <= 253, labels.count >= 2, labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            }) else {
                throw item.error("'\(item.key)' must be a DNS name (HTTP-01 and TLS-ALPN-01 cannot validate wildcards or addresses), got '\(name)'")
            }
            if !domains.contains(name) { domains.append(name) }
        }
        guard !domains.isEmpty else { throw domainsValue.error("'\(domainsValue.key)' needs at least one domain name") }
        let ca = try keys["ca"].map { try readableFile($0, relativeTo: directory) }
        var acme = TLSSettings.ACME(directory: url, email: email, domains: domains, ca: ca)
        if let challengeValue = keys["challenge"] {
            let text = try challengeValue.string()
            guard let challenge = TLSSettings.ACME.Challenge(rawValue: text) else {
                throw challengeValue.error("'\(challengeValue.key)' must be http-01 or tls-alpn-01, got '\(text)'")
            }
            acme.challenge = challenge
        }
        return acme
    }
}
