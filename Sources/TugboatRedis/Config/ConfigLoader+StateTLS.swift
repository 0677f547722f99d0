import Foundation
import TugboatCore

// Parsing of `state-tls:`.
extension ConfigLoader {
    /// `state-tls: { ca, cert, key }`: files present and readable, `cert` and `key` together, the key
    /// not readable by everyone; `tugboat check` loads them (`RedisTLS`).
    package static func parseStateTLS(_ value: YAMLValue) throws -> StateTLSSettings {
        let keys = try value.mapping(allowed: ["ca", "cert", "key"])
        let directory = (value.file as NSString).deletingLastPathComponent
        var settings = StateTLSSettings()
        settings.line = value.line
        settings.ca = try keys["ca"].map { try readableFile($0, relativeTo: directory) }
        guard (keys["cert"] == nil) == (keys["key"] == nil) else { throw value.error("'\(value.key)' needs both 'cert' and 'key', or neither") }
        if let certValue = keys["cert"], let keyValue = keys["key"] {
            settings.cert = try readableFile(certValue, relativeTo: directory)
            settings.key = try privateKeyFile(keyValue, relativeTo: directory)
        }
        return settings
    }
}
