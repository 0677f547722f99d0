import Foundation
import Hummingbird
import TugboatProxy

/// `GET /api/certificates` and the expiry lines of `/metrics`.
enum CertificateRoutes {
    struct CertificateView: ResponseEncodable, Sendable {
        var names: [String]
        var issuer: String
        var not_after: String
        var source: String
        var last_renewal_error: String?
    }

    static func add(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.get("/api/certificates") { _, _ -> Response in
            let views = (state.certificates?.current ?? []).map {
                CertificateView(names: $0.names, issuer: $0.issuer, not_after: Timestamp.iso($0.notAfter), source: "file",
                                last_renewal_error: $0.lastError)
            }
            return try Response.json(views)
        }
    }

    /// `tugboat_certificate_expiry_timestamp_seconds{name}`: one line per name of every certificate.
    static func metrics(_ book: CertificateBook?) -> String {
        guard let book else { return "" }
        var text = "# HELP tugboat_certificate_expiry_timestamp_seconds When a certificate of the public listener expires (Unix time).\n"
        text += "# TYPE tugboat_certificate_expiry_timestamp_seconds gauge\n"
        for entry in book.current {
            for name in entry.names {
                text += "tugboat_certificate_expiry_timestamp_seconds{name=\"\(name)\"} \(Int(entry.notAfter.timeIntervalSince1970))\n"
            }
        }
        return text
    }
}
