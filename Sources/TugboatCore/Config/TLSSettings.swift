/// `tls:` on the public listener: certificates from files (several, chosen by SNI) and an
/// optional plain-HTTP listener that redirects to HTTPS.
public struct TLSSettings: Sendable, Equatable {
    /// One `tls.certificates[]` entry: PEM files (the certificate with its chain, the key), and
    /// where the entry is in the config file so that errors found when loading can name it.
    public struct CertificateFiles: Sendable, Equatable {
        public var cert: String
        public var key: String
        public var configFile: String
        public var configLine: Int

        public init(cert: String, key: String, configFile: String = "", configLine: Int = 0) {
            self.cert = cert
            self.key = key
            self.configFile = configFile
            self.configLine = configLine
        }

        /// A problem with these files, located at their entry in the config.
        public func error(_ message: String) -> ConfigError {
            ConfigError(file: configFile, line: configLine, message: message)
        }
    }

    public var certificates: [CertificateFiles]
    /// A plain-HTTP listener answering 308 to `https://`.
    public var redirect: HostPort?
    /// ALPN offers `h2` besides `http/1.1` (`tls.http2`, default true).
    public var http2 = true
    /// SETTINGS_MAX_CONCURRENT_STREAMS per HTTP/2 connection (`tls.http2-max-streams`, default 100).
    public var http2MaxStreams = 100

    public init(certificates: [CertificateFiles], redirect: HostPort? = nil) {
        self.certificates = certificates
        self.redirect = redirect
    }
}
