import TugboatCore

/// `tls:` on the public listener: certificates from files (several, chosen by SNI), certificates
/// obtained by Tugboat itself over ACME, and an optional plain-HTTP listener that redirects to
/// HTTPS (and answers ACME HTTP-01 challenges).
package struct TLSSettings: Sendable, Equatable {
    /// One `tls.certificates[]` entry (Core's type, shared with `admin.tls`).
    package typealias CertificateFiles = TugboatCore.CertificateFiles

    /// `tls.acme`: one certificate for `domains`, ordered and renewed from an ACME server (RFC 8555).
    package struct ACME: Sendable, Equatable {
        /// The ACME directory URL (https).
        package var directory: String
        package var email: String
        /// The certificate's names (lowercased), the first one its subject.
        package var domains: [String]
        /// PEM roots trusted for the ACME server's own HTTPS (the system's when nil).
        package var ca: String?
        /// How the CA checks that the domains are ours (`tls.acme.challenge`).
        package var challenge: Challenge = .http01

        package enum Challenge: String, Sendable, Equatable {
            /// HTTP-01: a file served by the redirect listener (`tls.redirect`, port 80).
            case http01 = "http-01"
            /// TLS-ALPN-01 (RFC 8737): a certificate served on the public listener (port 443) to
            /// a handshake offering ALPN `acme-tls/1`; no port 80 needed.
            case tlsALPN01 = "tls-alpn-01"
        }

        package init(directory: String, email: String, domains: [String], ca: String? = nil) {
            self.directory = directory
            self.email = email
            self.domains = domains
            self.ca = ca
        }
    }

    /// Certificates from files (may be empty when `acme` is set).
    package var certificates: [CertificateFiles]
    package var acme: ACME?
    /// A plain-HTTP listener answering 308 to `https://` (and HTTP-01 challenges).
    package var redirect: HostPort?
    /// ALPN offers `h2` besides `http/1.1` (`tls.http2`, default true).
    package var http2 = true
    /// SETTINGS_MAX_CONCURRENT_STREAMS per HTTP/2 connection (`tls.http2-max-streams`, default 100).
    package var http2MaxStreams = 100
    /// Handshakes that ask for it get the certificate's OCSP response, fetched from the responder
    /// its certificate names (`tls.ocsp-stapling`, default true).
    package var ocspStapling = true

    package init(certificates: [CertificateFiles], acme: ACME? = nil, redirect: HostPort? = nil) {
        self.certificates = certificates
        self.acme = acme
        self.redirect = redirect
    }
}
