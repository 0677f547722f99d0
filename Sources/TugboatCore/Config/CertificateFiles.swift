import Foundation

/// One `{ cert, key }` entry of a listener's `certificates` list (`tls.certificates[]`,
/// `admin.tls.certificates[]`): PEM files (the certificate with its chain, the key), and where the
/// entry is in the config file so that errors found when loading can name it. Core's, so that
/// both listeners' sections (TugboatProxy's `tls`, Core's `admin`) share it.
package struct CertificateFiles: Sendable, Equatable {
    package var cert: String
    package var key: String
    package var configFile: String
    package var configLine: Int
    /// The entry's dotted key (`admin.tls.certificates[0]`); empty when it is not from a file.
    package var configKey: String

    package init(cert: String, key: String, configFile: String = "", configLine: Int = 0, configKey: String = "") {
        self.cert = cert
        self.key = key
        self.configFile = configFile
        self.configLine = configLine
        self.configKey = configKey
    }

    /// The dotted key of one of the entry's fields (`cert`, `key`), for error messages.
    package func keyName(_ field: String) -> String { configKey.isEmpty ? field : "\(configKey).\(field)" }

    /// A problem with these files, located at their entry in the config.
    package func error(_ message: String) -> ConfigError {
        ConfigError(file: configFile, line: configLine, message: message)
    }

    /// The same files without where the config names them (an edit above moves the line).
    package var withoutLocation: CertificateFiles { CertificateFiles(cert: cert, key: key) }
}

extension ConfigLoader {
    /// A `certificates:` list of `{ cert, key }` PEM files: each readable, each key not readable by
    /// everyone (what `CertificateBook` finds inside them is reported at the same `FILE:LINE`).
    package static func parseCertificateList(_ list: YAMLValue, relativeTo directory: String) throws -> [CertificateFiles] {
        let certificates = try list.sequence().map { item in
            let fields = try item.mapping(allowed: ["cert", "key"])
            guard let certValue = fields["cert"], let keyValue = fields["key"] else { throw item.error("'\(item.key)' needs 'cert' and 'key'") }
            let cert = try readableFile(certValue, relativeTo: directory)
            let key = try privateKeyFile(keyValue, relativeTo: directory)
            return CertificateFiles(cert: cert, key: key, configFile: item.file, configLine: item.line, configKey: item.key)
        }
        guard !certificates.isEmpty else { throw list.error("'\(list.key)' needs at least one { cert, key }") }
        return certificates
    }
}
