import Foundation

/// Twilio's request signature (`X-Twilio-Signature`), as Twilio documents it: the full URL Twilio
/// requested (scheme, host, path and query, exactly as requested), then every POST parameter's
/// name followed by its value, sorted by name; HMAC-SHA1 of that with the account's auth token as
/// the key, base64. Pure: no I/O, nothing logged.
package enum TwilioSignature {
    /// The header Twilio puts the signature in.
    package static let header = "X-Twilio-Signature"

    /// The text that is signed. Parameters are sorted by name (byte order); a name given more than
    /// once has its values sorted and each pair counted once (as Twilio's own libraries do).
    package static func signedText(url: String, parameters: [(name: String, value: String)]) -> String {
        let sorted = parameters.map { (name: Array($0.name.utf8), value: Array($0.value.utf8)) }.sorted { a, b in
            a.name == b.name ? a.value.lexicographicallyPrecedes(b.value) : a.name.lexicographicallyPrecedes(b.name)
        }
        var bytes = Array(url.utf8)
        for (index, parameter) in sorted.enumerated() {
            if index > 0, sorted[index - 1].name == parameter.name, sorted[index - 1].value == parameter.value { continue }
            bytes += parameter.name + parameter.value
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The base64 signature Twilio sends for this request.
    package static func compute(url: String, parameters: [(name: String, value: String)], authToken: String) -> String {
        let mac = HMACSHA1.authenticationCode(key: Array(authToken.utf8),
                                              message: Array(signedText(url: url, parameters: parameters).utf8))
        return Data(mac).base64EncodedString()
    }

    /// Whether `signature` is Twilio's for this request: for `url`, or for it with the scheme's
    /// default port written out or left out (Twilio signs the URL as typed in its console).
    /// Compares in constant time; a missing or empty signature is never valid.
    package static func isValid(_ signature: String?, url: String, parameters: [(name: String, value: String)],
                               authToken: String) -> Bool {
        guard let signature, !signature.isEmpty, !authToken.isEmpty else { return false }
        var valid = false
        for candidate in [url] + [defaultPortVariant(of: url)].compactMap({ $0 }) {
            let expected = compute(url: candidate, parameters: parameters, authToken: authToken)
            valid = constantTimeEqual(Array(signature.utf8), Array(expected.utf8)) || valid
        }
        return valid
    }

    /// `https://host/p` ⇄ `https://host:443/p` (80 for http); nil for another port or scheme.
    package static func defaultPortVariant(of url: String) -> String? {
        let port: String
        if url.hasPrefix("https://") { port = "443" } else if url.hasPrefix("http://") { port = "80" } else { return nil }
        guard let schemeEnd = url.range(of: "://")?.upperBound else { return nil }
        let authorityEnd = url[schemeEnd...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        let authority = url[schemeEnd..<authorityEnd]
        let hostEnd = authority.lastIndex(of: "]") ?? authority.startIndex
        if let colon = authority[hostEnd...].lastIndex(of: ":") {
            guard authority[authority.index(after: colon)...] == port else { return nil }
            return String(url[..<colon]) + String(url[authorityEnd...])
        }
        return String(url[..<authorityEnd]) + ":" + port + String(url[authorityEnd...])
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
