import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization
import TugboatCore

/// A TLS listener's certificates (the public listener's, and the admin listener's with
/// `admin.tls`), loaded from their PEM files or installed at run time by the ACME service. A TLS handshake picks one by the client's server name (exact, then `*.` wildcard,
/// then the first); the files are re-read when they change, and a bad file keeps the certificate in
/// use (and says why in the log and the API).
package final class CertificateBook: Sendable {
    /// Where a certificate comes from.
    package enum Source: String, Sendable {
        case file, acme
    }

    /// One loaded certificate.
    package struct Entry: Sendable {
        /// Its files (nil for an ACME certificate, which lives in the store).
        package var files: TLSSettings.CertificateFiles?
        package var source: Source = .file
        /// A self-signed stand-in served for the ACME names until the first certificate arrives:
        /// not counted by the expiry metric and rule.
        package var isPlaceholder = false
        /// When Tugboat last tried to renew it (ACME).
        package var lastAttempt: Date?
        package var names: [String]
        package var issuer: String
        package var notAfter: Date
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var modified: [Date?]
        package var lastError: String?
        /// The OCSP response stapled to its handshakes (`tls.ocsp-stapling`), the last fetch's
        /// error and time.
        package var ocsp: OCSPStaple?
        package var ocspError: String?
        package var ocspAttempt: Date?

        /// The same certificate as `other` (a file touched but not changed, the same ACME
        /// certificate stored again): its OCSP state carries over.
        mutating func keepOCSP(of other: Entry) {
            guard let leaf = chain.first, let otherLeaf = other.chain.first, leaf == otherLeaf else { return }
            ocsp = other.ocsp
            ocspError = other.ocspError
            ocspAttempt = other.ocspAttempt
        }
    }

    private let entries: Mutex<[Entry]>
    private let logger: Logger

    /// Loads every certificate; the first problem is thrown as `FILE:LINE: message`.
    /// With only `tls.acme`, the book starts empty: the ACME service installs the stored
    /// certificate (or a placeholder) before the listener is set up.
    package convenience init(_ settings: TLSSettings, logger: Logger) throws {
        try self.init(files: settings.certificates, logger: logger)
    }

    /// Certificates from files only (`admin.tls.certificates`, or the public listener's).
    package init(files: [CertificateFiles], logger: Logger) throws {
        self.logger = logger
        entries = Mutex(try files.map(Self.load))
        for entry in entries.withLock({ $0 }) where entry.notAfter.timeIntervalSinceNow < 14 * 86_400 {
            logger.warning("certificate expires soon", metadata: ["certificate.names": "\(entry.names.joined(separator: ","))",
                                                                 "certificate.not_after": "\(entry.notAfter)"])
        }
    }

    package var current: [Entry] { entries.withLock { $0 } }

    /// Changes every entry in place.
    func updateEntries(_ change: (inout Entry) -> Void) {
        entries.withLock { entries in
            for index in entries.indices { change(&entries[index]) }
        }
    }

    static func load(_ files: TLSSettings.CertificateFiles) throws(ConfigError) -> Entry {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.cert)
        } catch {
            throw files.error("'\(files.keyName("cert"))': \(files.cert) holds no PEM certificate (\(error))")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key, format: .pem)
        } catch {
            throw files.error("'\(files.keyName("key"))': \(files.key) holds no PEM private key (\(error))")
        }
        let entry: Entry
        do {
            entry = try make(chain: chain, key: key)
        } catch {
            switch error {
            case .noCertificate: throw files.error("'\(files.keyName("cert"))': \(files.cert) holds no PEM certificate")
            case .keyMismatch(let reason): throw files.error("'\(files.keyName("key"))': \(files.key) is not the private key of \(files.cert) (\(reason))")
            case .expired(let notAfter): throw files.error("'\(files.keyName("cert"))': \(files.cert) expired on \(notAfter)")
            }
        }
        var loaded = entry
        loaded.files = files
        loaded.modified = Self.modified(files)
        return loaded
    }

    /// Why a chain and key cannot be served (the key itself is never part of the reason).
    package enum EntryError: Error, CustomStringConvertible {
        case noCertificate
        case keyMismatch(String)
        case expired(Date)

        package var description: String {
            switch self {
            case .noCertificate: "no PEM certificate"
            case .keyMismatch(let reason): "the private key does not belong to the certificate (\(reason))"
            case .expired(let date): "the certificate expired on \(date)"
            }
        }
    }

    /// An entry from PEM text (an ACME certificate from the store or just downloaded).
    package static func entry(chainPEM: String, keyPEM: String, source: Source) throws -> Entry {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
        } catch {
            throw EntryError.noCertificate
        }
        do {
            key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        } catch {
            throw EntryError.keyMismatch("no PEM private key")
        }
        var entry = try make(chain: chain, key: key)
        entry.source = source
        return entry
    }

    private static func make(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) throws(EntryError) -> Entry {
        guard let leaf = chain.first else { throw .noCertificate }
        do {
            // BoringSSL checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw .keyMismatch("\(error)")
        }
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        guard notAfter > Date() else { throw .expired(notAfter) }
        var names: [String] = []
        for name in leaf._subjectAlternativeNames() {
            switch name.nameType {
            case .dnsName: names.append(String(decoding: name.contents, as: UTF8.self).lowercased())
            case .ipAddress: names.append(Self.ipText(Array(name.contents)))
            default: continue
            }
        }
        return Entry(files: nil, names: names, issuer: (try? leaf.toDERBytes()).flatMap(CertificateFacts.issuer) ?? "unknown",
                     notAfter: notAfter, chain: chain, key: key, modified: [])
    }

    /// Puts `entry` in place of the ACME certificate (or adds it): new handshakes get it at once,
    /// open connections keep theirs. The last attempt's time and error stay with the new entry.
    package func install(acme entry: Entry) {
        var entry = entry
        entry.source = .acme
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.source == .acme }) {
                entry.lastAttempt = entries[index].lastAttempt
                entry.keepOCSP(of: entries[index])
                entries[index] = entry
            } else {
                entries.append(entry)
            }
        }
    }

    /// Records an ACME attempt on the ACME entry: its time, and the error (nil when it succeeded).
    package func noteACMEAttempt(at date: Date, error: String?) {
        entries.withLock { entries in
            guard let index = entries.firstIndex(where: { $0.source == .acme }) else { return }
            entries[index].lastAttempt = date
            entries[index].lastError = error
        }
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

    /// A reload named other certificate files (`tls.certificates`): they take the place of the
    /// file entries (ACME ones stay), for the next handshake; open connections keep theirs. Nothing
    /// changes when one of them does not load.
    package func replaceFiles(_ files: [TLSSettings.CertificateFiles]) throws(ConfigError) {
        var loaded: [Entry] = []
        for entry in files { loaded.append(try Self.load(entry)) }
        entries.withLock { entries in
            for index in loaded.indices {
                if let old = entries.first(where: { $0.chain.first == loaded[index].chain.first }) { loaded[index].keepOCSP(of: old) }
            }
            entries = loaded + entries.filter { $0.source == .acme }
        }
        logger.info("certificates replaced", metadata: ["certificate.files": "\(files.map(\.cert).joined(separator: ","))"])
    }

    /// Re-reads certificates whose files changed (every one with `force`, on SIGHUP); a file that
    /// does not load keeps the old one.
    package func reloadChanged(force: Bool = false) {
        let snapshot = current
        for (index, entry) in snapshot.enumerated() {
            guard let files = entry.files, force || Self.modified(files) != entry.modified else { continue }
            do {
                var fresh = try Self.load(files)
                fresh.keepOCSP(of: entry)
                entries.withLock { $0[index] = fresh }
                logger.info("certificate reloaded", metadata: ["certificate.names": "\(fresh.names.joined(separator: ","))",
                                                              "certificate.not_after": "\(fresh.notAfter)"])
            } catch {
                entries.withLock {
                    $0[index].lastError = error.message
                    $0[index].modified = Self.modified(files)  // say it once per change
                }
                logger.error("certificate not reloaded: the old one stays", metadata: ["error": "\(error)"])
            }
        }
    }

    /// TLS 1.2 and 1.3, BoringSSL's modern cipher defaults, ALPN `h2` (unless `http2` is false)
    /// and `http/1.1`; the certificate is chosen per handshake (SNI) from the book, so a reload
    /// applies to new connections at once.
    package func serverConfiguration(http2: Bool = false) -> TLSConfiguration {
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
