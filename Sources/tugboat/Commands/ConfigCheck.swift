import Logging
import TugboatCore
import TugboatProxy

/// Loads a config file and checks what the parser alone cannot: that the TLS certificate files
/// parse, hold a key that belongs to the certificate, and have not expired. Every problem is a
/// `ConfigError` (`FILE:LINE: message`).
enum ConfigCheck {
    static func load(path: String) throws -> TugboatConfig {
        let config = try ConfigLoader.load(path: path)
        // From here on, its secrets are redacted wherever they might be printed (serve and reload).
        Redaction.remember(config.secrets)
        if let tls = config.tls { _ = try CertificateBook(tls, logger: Logger(label: "tugboat.check")) }
        if let tls = config.pool.tls {
            do {
                _ = try BackendTLS(tls)
            } catch {
                throw ConfigError(file: path, line: tls.caLine, message: "'pool.tls.ca': \(tls.ca ?? "") holds no PEM certificate (\(error))")
            }
        }
        return config
    }
}
