import NIOSSL
import TugboatCore

/// TLS to Redis (`rediss://`): the server's certificate is verified — against `ca` (a PEM file of
/// roots) or, without it, the system's trust store — and so is its name (the host of the URL; an
/// IP address is checked against the certificate's IP addresses). With `certificate` and `key`
/// the client presents a certificate of its own (Redis' default `tls-auth-clients yes` asks for one).
package struct RedisTLS: Sendable, Hashable {
    package var ca: String?
    package var certificate: String?
    package var key: String?

    package init(ca: String? = nil, certificate: String? = nil, key: String? = nil) {
        self.ca = ca
        self.certificate = certificate
        self.key = key
    }

    /// The client context; reads the files (again at each connect, so renewed files are used).
    package func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let ca { configuration.trustRoots = .file(ca) }
        if let certificate, let key {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

extension RedisTLS {
    /// `state-tls` of the config.
    package init(_ settings: StateTLSSettings) {
        self.init(ca: settings.ca, certificate: settings.cert, key: settings.key)
    }
}

extension RedisConfiguration {
    /// `state: redis(s)://…` with `state-tls`'s files (which apply to `rediss://` only).
    package init(url: String, tls settings: StateTLSSettings?) throws(RedisError) {
        try self.init(url: url)
        if tls != nil, let settings { tls = RedisTLS(settings) }
    }
}
