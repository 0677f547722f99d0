import Foundation

// Parsing of `tls:`. The files are checked here for what needs no TLS library (present, readable,
// a key not readable by everyone); `CertificateBook` in TugboatProxy parses them and reports
// what is wrong inside at the same `FILE:LINE`.
extension ConfigLoader {
    static func parseTLS(_ value: YAMLValue) throws -> TLSSettings {
        let keys = try value.mapping(allowed: ["certificates", "redirect", "http2", "http2-max-streams"])
        guard let list = keys["certificates"] else {
            throw value.error("'\(value.key)' needs 'certificates' (a list of { cert, key } PEM files)")
        }
        let http2 = try keys["http2"]?.bool() ?? true
        let maxStreams = try keys["http2-max-streams"]?.int(range: 1...10_000) ?? 100
        let directory = (value.file as NSString).deletingLastPathComponent
        let certificates = try list.sequence().map { item in
            let fields = try item.mapping(allowed: ["cert", "key"])
            guard let certValue = fields["cert"], let keyValue = fields["key"] else { throw item.error("'\(item.key)' needs 'cert' and 'key'") }
            let cert = try readableFile(certValue, relativeTo: directory)
            let key = try readableFile(keyValue, relativeTo: directory)
            var status = stat()
            if stat(key, &status) == 0, status.st_mode & 0o004 != 0 {
                throw keyValue.error("'\(keyValue.key)': the private key \(key) is readable by every user (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
            }
            return TLSSettings.CertificateFiles(cert: cert, key: key, configFile: item.file, configLine: item.line)
        }
        guard !certificates.isEmpty else { throw list.error("'\(list.key)' needs at least one { cert, key }") }
        var settings = TLSSettings(certificates: certificates, redirect: try keys["redirect"]?.hostPort(allowPortZero: true))
        settings.http2 = http2
        settings.http2MaxStreams = maxStreams
        return settings
    }

    private static func readableFile(_ value: YAMLValue, relativeTo directory: String) throws -> String {
        let text = try value.string()
        let path = text.hasPrefix("/") || directory.isEmpty ? text : (directory as NSString).appendingPathComponent(text)
        guard FileManager.default.isReadableFile(atPath: path) else { throw value.error("'\(value.key)': cannot read \(path)") }
        return path
    }

    static func parseBackendTLS(_ value: YAMLValue) throws -> BackendTLSSettings {
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
