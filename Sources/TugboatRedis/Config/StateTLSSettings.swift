/// `state-tls: { ca, cert, key }`: TLS to the Redis of `state: rediss://…` (PEM files).
public struct StateTLSSettings: Sendable, Equatable {
    /// The roots the server's certificate is verified against; nil: the system's trust store.
    public var ca: String?
    /// A client certificate and its key, for a Redis that asks for one (`tls-auth-clients`).
    public var cert: String?
    public var key: String?
    /// Where `state-tls` is in the config file, for errors found when its files are loaded.
    public var line = 0

    public init(ca: String? = nil, cert: String? = nil, key: String? = nil) {
        self.ca = ca
        self.cert = cert
        self.key = key
    }
}
