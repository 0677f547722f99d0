import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization
import TugboatCore

/// The public listener's certificates, loaded from their PEM files. A TLS handshake picks one by
/// the client's server name (exact, then `*.` wildcard, then the first); the files are re-read when
/// they change, and a bad file keeps the certificate in use (and says why in the log and the API).
public final class CertificateBook: Sendable {
    /// One loaded certificate.
    public struct Entry: Sendable {
        public var files: TLSSettings.CertificateFiles
        public var names: [String]
        public var issuer: String
        public var notAfter: Date
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var modified: [Date?]
        public var lastError: String?
    }

    private let entries: Mutex<[Entry]>
    private let logger: Logger

    /// Loads every certificate; the first problem is thrown as `FILE:LINE: message`.
    public init(_ settings: TLSSettings, logger: Logger) throws {
        self.logger = logger
        entries = Mutex(try settings.certificates.map(Self.load))
        for entry in entries.withLock({ $0 }) where entry.notAfter.timeIntervalSinceNow < 14 * 86_400 {
            logger.warning("certificate expires soon", metadata: ["certificate.names": "\(entry.names.joined(separator: ","))",
                                                                 "certificate.not_after": "\(entry.notAfter)"])
        }
    }

    public var current: [Entry] { entries.withLock { $0 } }

    static func load(_ files: TLSSettings.CertificateFiles) throws(ConfigError) -> Entry {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.cert)
        } catch {
            throw files.error("'cert': \(files.cert) holds no PEM certificate (\(error))")
        }
        guard let leaf = chain.first else { throw files.error("'cert': \(files.cert) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key, format: .pem)
        } catch {
            throw files.error("'key': \(files.key) holds no PEM private key (\(error))")
        }
        do {
            // BoringSSL checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw files.error("'key': \(files.key) is not the private key of \(files.cert) (\(error))")
        }
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        guard notAfter > Date() else { throw files.error("'cert': \(files.cert) expired on \(notAfter)") }
        var names: [String] = []
        for name in leaf._subjectAlternativeNames() {
            switch name.nameType {
            case .dnsName: names.append(String(decoding: name.contents, as: UTF8.self).lowercased())
            case .ipAddress: names.append(Self.ipText(Array(name.contents)))
            default: continue
            }
        }
        return Entry(files: files, names: names, issuer: (try? leaf.toDERBytes()).flatMap(CertificateFacts.issuer) ?? "unknown",
                     notAfter: notAfter, chain: chain, key: key, modified: Self.modified(files))
    }

    static func modified(_ files: TLSSettings.CertificateFiles) -> [Date?] {
        [files.cert, files.key].map { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
    }

    static func ipText(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: bytes.count, by: 2).map { String(Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// The certificate for a handshake naming `serverName` (nil: no SNI).
    func select(serverName: String?) -> Entry? {
        entries.withLock { entries in
            guard let name = serverName?.lowercased() else { return entries.first }
            if let exact = entries.first(where: { $0.names.contains(name) }) { return exact }
            if let dot = name.firstIndex(of: ".") {
                let wildcard = "*" + name[dot...]
                if let match = entries.first(where: { $0.names.contains(wildcard) }) { return match }
            }
            return entries.first
        }
    }

    /// Re-reads certificates whose files changed (every one with `force`, on SIGHUP); a file that
    /// does not load keeps the old one.
    public func reloadChanged(force: Bool = false) {
        let snapshot = current
        for (index, entry) in snapshot.enumerated() where force || Self.modified(entry.files) != entry.modified {
            do {
                let fresh = try Self.load(entry.files)
                entries.withLock { $0[index] = fresh }
                logger.info("certificate reloaded", metadata: ["certificate.names": "\(fresh.names.joined(separator: ","))",
                                                              "certificate.not_after": "\(fresh.notAfter)"])
            } catch {
                entries.withLock {
                    $0[index].lastError = error.message
                    $0[index].modified = Self.modified(entry.files)  // say it once per change
                }
                logger.error("certificate not reloaded: the old one stays", metadata: ["error": "\(error)"])
            }
        }
    }

    /// TLS 1.2 and 1.3, BoringSSL's modern cipher defaults, ALPN `h2` (unless `http2` is false)
    /// and `http/1.1`; the certificate is chosen per handshake (SNI) from the book, so a reload
    /// applies to new connections at once.
    public func serverConfiguration(http2: Bool = false) -> TLSConfiguration {
        let first = current[0]
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: first.chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(first.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = http2 ? [HTTP2Front.protocolName, "http/1.1"] : ["http/1.1"]
        configuration.sslContextCallback = { [self] values, promise in
            guard let entry = self.select(serverName: values.serverHostname) else { return promise.succeed(.noChanges) }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = entry.chain.map { .certificate($0) }
            override.privateKey = .privateKey(entry.key)
            promise.succeed(override)
        }
        return configuration
    }
}
