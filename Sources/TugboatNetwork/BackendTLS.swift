import NIOCore
import NIOSSL
import TugboatCore

/// `pool.tls` made ready for connections: one client TLS context for the proxy's upstream
/// connections and the health checks, and the name each backend is asked for.
package struct BackendTLS: Sendable {
    package let context: NIOSSLContext
    let sni: String?

    /// Throws when `ca` holds no PEM certificate, as `FILE:LINE`-less text (the file is named).
    package init(_ settings: BackendTLSSettings) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        if let ca = settings.ca { configuration.trustRoots = .file(ca) }
        if !settings.verify { configuration.certificateVerification = .none }
        context = try NIOSSLContext(configuration: configuration)
        sni = settings.sni
    }

    /// The name to send in SNI (and check) for a backend: `sni`, else its host unless that is an IP
    /// address (then the certificate's IP addresses are checked against the peer's).
    package func serverName(for host: String) -> String? {
        sni ?? TLSServerName.forHost(host)
    }

    /// The client-side TLS handler for a connection to `host`.
    package func handler(for host: String) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverName(for: host))
    }
}
