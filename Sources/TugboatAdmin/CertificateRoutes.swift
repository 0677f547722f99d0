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
        /// Whose certificate: the public listener's (`tls`) or the admin listener's (`admin.tls`).
        var listener: String

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
            case names, issuer, not_after, source, placeholder, last_renewal_attempt, last_renewal_error, ocsp, listener
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
            try container.encode(listener, forKey: .listener)
        }
    }

    static func add(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.get("/api/certificates") { _, _ -> Response in
            let listed = (state.certificates?.current ?? []).map { ($0, "public") } + (state.adminCertificates?.current ?? []).map { ($0, "admin") }
            let views = listed.map { entry, listener in
                CertificateView(names: entry.names, issuer: entry.issuer, not_after: Timestamp.iso(entry.notAfter), source: entry.source.rawValue,
                                placeholder: entry.isPlaceholder, last_renewal_attempt: entry.lastAttempt.map(Timestamp.iso),
                                last_renewal_error: Redaction.redact(entry.lastError), ocsp: CertificateView.OCSPView(entry), listener: listener)
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

    /// `tugboat_certificate_expiry_timestamp_seconds{name}`: one line per name of every certificate
    /// of the public listener; the admin listener's (`admin.tls`) carry `listener="admin"` as well.
    static func metrics(_ book: CertificateBook?, admin: CertificateBook? = nil) -> String {
        guard book != nil || admin != nil else { return "" }
        var text = "# HELP tugboat_certificate_expiry_timestamp_seconds When a certificate of Tugboat's listeners expires (Unix time).\n"
        text += "# TYPE tugboat_certificate_expiry_timestamp_seconds gauge\n"
        for (book, extraLabel) in [(book, ""), (admin, ",listener=\"admin\"")] {
            for entry in book?.current ?? [] where !entry.isPlaceholder {
                for name in entry.names {
                    text += "tugboat_certificate_expiry_timestamp_seconds{name=\"\(name)\"\(extraLabel)} \(Int(entry.notAfter.timeIntervalSince1970))\n"
                }
            }
        }
        return text
    }
}
