import Logging
import TugboatCore
import TugboatNetwork
import TugboatProxy
import TugboatRedis

/// Loads a config file and checks what the parser alone cannot: that the TLS certificate files
/// (`tls`, `admin.tls`) parse, hold a key that belongs to the certificate, and have not expired. Every problem is a
/// `ConfigError` (`FILE:LINE: message`).
package enum ConfigCheck {
    package static func load(path: String) throws -> TugboatConfig {
        let config = try ConfigLoader.load(path: path)
        // From here on, its secrets are redacted wherever they might be printed (serve and reload).
        Redaction.remember(config.secrets)
        if let tls = config.tls { _ = try CertificateBook(tls, logger: Logger(label: "tugboat.check")) }
        if let tls = config.admin.tls { _ = try CertificateBook(files: tls.certificates, logger: Logger(label: "tugboat.check")) }
        if let tls = config.pool.tls {
            do {
                _ = try BackendTLS(tls)
            } catch {
                throw ConfigError(file: path, line: tls.caLine, message: "'pool.tls.ca': \(tls.ca ?? "") holds no PEM certificate (\(error))")
            }
        }
        if let tls = config.stateTLS {
            do {
                _ = try RedisTLS(tls).makeContext()
            } catch {
                throw ConfigError(file: path, line: tls.line, message: "'state-tls': the certificate files do not load (\(error))")
            }
        }
        return config
    }
}
