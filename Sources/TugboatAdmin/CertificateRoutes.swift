import Foundation
import Hummingbird
import TugboatCore
import TugboatProxy

/// Orders a certificate now (`tls.acme`); implemented by the ACME service, wired by the executable.
package protocol CertificateRenewing: Sendable {
    func renewNow()
}

/// `GET /api/certificates`, `POST /api/certificates/renew` and the expiry lines of `/metrics`.
enum CertificateRoutes {
    struct CertificateView: ResponseEncodable, Sendable {
        var names: [String]
        var issuer: String
        var not_after: String
        var source: String
        /// The self-signed stand-in served until the first ACME certificate arrives.
        var placeholder: Bool
        var last_renewal_attempt: String?
        var last_renewal_error: String?

        private enum CodingKeys: String, CodingKey {
            case names, issuer, not_after, source, placeholder, last_renewal_attempt, last_renewal_error
        }

        /// `null` written out for the optional fields (the API's documented shape).
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(names, forKey: .names)
            try container.encode(issuer, forKey: .issuer)
            try container.encode(not_after, forKey: .not_after)
            try container.encode(source, forKey: .source)
            try container.encode(placeholder, forKey: .placeholder)
            try container.encode(last_renewal_attempt, forKey: .last_renewal_attempt)
            try container.encode(last_renewal_error, forKey: .last_renewal_error)
        }
    }

    static func add(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.get("/api/certificates") { _, _ -> Response in
            let views = (state.certificates?.current ?? []).map {
                CertificateView(names: $0.names, issuer: $0.issuer, not_after: Timestamp.iso($0.notAfter), source: $0.source.rawValue,
                                placeholder: $0.isPlaceholder, last_renewal_attempt: $0.lastAttempt.map(Timestamp.iso),
                                last_renewal_error: Redaction.redact($0.lastError))
            }
            return try Response.json(views)
        }
        group.post("/api/certificates/renew") { _, _ -> Response in
            guard let renewer = state.certificateRenewer else { return AdminServer.jsonError(.notFound, "no tls.acme: nothing to renew") }
            renewer.renewNow()
            struct Accepted: Encodable { var renewing: Bool }
            var response = try Response.json(Accepted(renewing: true))
            response.status = .accepted
            return response
        }
    }

    /// `tugboat_certificate_expiry_timestamp_seconds{name}`: one line per name of every certificate.
    static func metrics(_ book: CertificateBook?) -> String {
        guard let book else { return "" }
        var text = "# HELP tugboat_certificate_expiry_timestamp_seconds When a certificate of the public listener expires (Unix time).\n"
        text += "# TYPE tugboat_certificate_expiry_timestamp_seconds gauge\n"
        for entry in book.current where !entry.isPlaceholder {
            for name in entry.names {
                text += "tugboat_certificate_expiry_timestamp_seconds{name=\"\(name)\"} \(Int(entry.notAfter.timeIntervalSince1970))\n"
            }
        }
        return text
    }
}
