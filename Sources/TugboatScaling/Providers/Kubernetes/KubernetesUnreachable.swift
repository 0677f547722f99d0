import TugboatCore

/// The API server could not be reached or the TLS handshake with it failed: names the server and
/// where the credentials came from (`kubeconfig /path (context c)`, `in-cluster`), and says what
/// to check. Never carries a token or a key (only the error's text, redacted).
package struct KubernetesUnreachable: Error, Sendable, CustomStringConvertible {
    package var server: String
    package var origin: String
    package var reason: String

    init(server: String, origin: String, error: any Error) {
        self.server = server
        self.origin = origin
        reason = Self.reason(ErrorText.short(error))
    }

    package var description: String { "cannot reach the Kubernetes API at \(server) (credentials: \(origin)): \(reason)" }

    /// What a transport error's text means for the user (pure).
    static func reason(_ text: String) -> String {
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS: the server's certificate does not verify against the cluster's certificate authority (check certificate-authority or certificate-authority-data, and that the server's certificate has not expired) [\(text)]"
        }
        let refusedClient = ["CERTIFICATE_REQUIRED", "ALERT_HANDSHAKE_FAILURE", "ALERT_BAD_CERTIFICATE", "ALERT_UNKNOWN_CA",
                             "ALERT_CERTIFICATE_UNKNOWN", "ALERT_ACCESS_DENIED"]
        if refusedClient.contains(where: text.contains) {
            return "TLS: the server refused the client certificate (check client-certificate(-data) and client-key(-data)) [\(text)]"
        }
        return text
    }
}
