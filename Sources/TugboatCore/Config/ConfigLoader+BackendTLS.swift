import Foundation

// Parsing of `pool.tls` (the backends speak TLS); `BackendTLS` in TugboatNetwork loads the CA.
extension ConfigLoader {
    package static func parseBackendTLS(_ value: YAMLValue) throws -> BackendTLSSettings {
        var settings = BackendTLSSettings()
        let keys = try value.mapping(allowed: ["verify", "ca", "sni"])
        if let verify = keys["verify"] { settings.verify = try verify.bool() }
        if let ca = keys["ca"] {
            settings.ca = try readableFile(ca, relativeTo: (value.file as NSString).deletingLastPathComponent)
            settings.caLine = ca.line
        }
        if let sni = keys["sni"] {
            let name = try sni.string()
            guard !name.isEmpty, name.utf8.count <= 253, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
                throw sni.error("'\(sni.key)' must be a host name, got '\(name)'")
            }
            settings.sni = name
        }
        return settings
    }
}
