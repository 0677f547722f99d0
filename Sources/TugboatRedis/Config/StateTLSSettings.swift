/// `state-tls: { ca, cert, key }`: TLS to the Redis of `state: rediss://…` (PEM files).
package struct StateTLSSettings: Sendable, Equatable {
    /// The roots the server's certificate is verified against; nil: the system's trust store.
    package var ca: String?
    /// A client certificate and its key, for a Redis that asks for one (`tls-auth-clients`).
    package var cert: String?
    package var key: String?
    /// Where `state-tls` is in the config file, for errors found when its files are loaded.
    package var line = 0

    package init(ca: String? = nil, cert: String? = nil, key: String? = nil) {
        self.ca = ca
        self.cert = cert
        self.key = key
    }
}
