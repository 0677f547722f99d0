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
        var ocsp: OCSPView?

        /// The stapled OCSP response (`tls.ocsp-stapling`): null until the stapler first tried.
        struct OCSPView: Encodable, Sendable {
            var stapled: Bool
            var this_update: String?
            var next_update: String?
            var last_attempt: String?
            var last_error: String?

            private enum CodingKeys: String, CodingKey { case stapled, this_update, next_update, last_attempt, last_error }

            init?(_ entry: CertificateBook.Entry) {
                guard entry.ocspAttempt != nil else { return nil }
                stapled = entry.ocsp?.isValid(at: Date()) ?? false
                this_update = entry.ocsp.map { Timestamp.iso($0.thisUpdate) }
                next_update = entry.ocsp?.nextUpdate.map(Timestamp.iso)
                last_attempt = entry.ocspAttempt.map(Timestamp.iso)
                last_error = Redaction.redact(entry.ocspError)
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(stapled, forKey: .stapled)
                try container.encode(this_update, forKey: .this_update)
                try container.encode(next_update, forKey: .next_update)
                try container.encode(last_attempt, forKey: .last_attempt)
                try container.encode(last_error, forKey: .last_error)
            }
        }

        private enum CodingKeys: String, CodingKey {
            case names, issuer, not_after, source, placeholder, last_renewal_attempt, last_renewal_error, ocsp
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
            try container.encode(ocsp, forKey: .ocsp)
        }
    }

    static func add(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.get("/api/certificates") { _, _ -> Response in
            let views = (state.certificates?.current ?? []).map {
                CertificateView(names: $0.names, issuer: $0.issuer, not_after: Timestamp.iso($0.notAfter), source: $0.source.rawValue,
                                placeholder: $0.isPlaceholder, last_renewal_attempt: $0.lastAttempt.map(Timestamp.iso),
                                last_renewal_error: Redaction.redact($0.lastError), ocsp: CertificateView.OCSPView($0))
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
