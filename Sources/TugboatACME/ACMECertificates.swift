import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TugboatCore
import TugboatProxy
import TugboatStore

/// `tls.acme`: keeps the public listener's ACME certificate. At start it installs the stored
/// certificate (or a self-signed placeholder when there is none yet) into the `CertificateBook`;
/// then it orders and renews when `RenewalPlanner` says so, stores each new certificate with its
/// key, and installs it without touching open connections. Failures back off and are shown in
/// the log and `/api/certificates`; whatever is being served stays.
public final class ACMECertificates: Service, Sendable {
    private let settings: TLSSettings.ACME
    private let book: CertificateBook
    private let store: Store
    private let challenges: ACMEChallenges
    private let group: EventLoopGroup
    private let logger: Logger
    private let planner: Mutex<RenewalPlanner>
    private let nap = Mutex<Task<Void, Never>?>(nil)
    private let policy: RenewalPlanner.Policy

    /// Installs what handshakes for the domains get until the first order completes: the stored
    /// certificate, or a placeholder. Call before the listener builds its TLS context.
    public init(settings: TLSSettings.ACME, book: CertificateBook, store: Store, challenges: ACMEChallenges,
                group: EventLoopGroup, logger: Logger) throws {
        self.settings = settings
        self.book = book
        self.store = store
        self.challenges = challenges
        self.group = group
        self.logger = logger
        policy = RenewalPlanner.Policy()
        var validity: RenewalPlanner.Validity?
        if let stored = try store.acmeCertificate(domains: settings.domains), stored.notAfter > Date(),
           let entry = try? CertificateBook.entry(chainPEM: stored.chainPEM, keyPEM: stored.keyPEM, source: .acme) {
            book.install(acme: entry)
            validity = .init(notBefore: stored.notBefore, notAfter: stored.notAfter)
            logger.info("acme certificate loaded from the store", metadata: ["certificate.names": "\(entry.names.joined(separator: ","))",
                                                                             "certificate.not_after": "\(stored.notAfter)"])
        } else {
            let placeholder = try CertificateRequests.placeholder(domains: settings.domains)
            var entry = try CertificateBook.entry(chainPEM: placeholder.chainPEM, keyPEM: placeholder.keyPEM, source: .acme)
            entry.isPlaceholder = true
            book.install(acme: entry)
        }
        planner = Mutex(RenewalPlanner(policy: policy, certificate: validity))
    }

    /// The admin action: order at once (the running attempt, if any, finishes first).
    public func renewNow() {
        planner.withLock { $0.renewNow() }
        nap.withLock { $0?.cancel() }
    }

    public func run() async throws {
        let key = try accountKey()
        let accountURL = try store.acmeAccount(directory: settings.directory)?.url
        let transport = try HTTPTransport(ca: settings.ca, group: group)
        let client = ACMEClient(directoryURL: settings.directory, transport: transport, key: key, accountURL: accountURL)
        let issuer = ACMEIssuer(client: client, challenges: challenges, logger: logger)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = Date()
            let next = planner.withLock { $0.nextAttempt(now: now) }
            if next > now {
                await sleep(until: next)
                continue
            }
            // A shutdown does not wait for an order in progress (its polls may take minutes).
            await cancelWhenGracefulShutdown { await self.attempt(issuer: issuer, client: client) }
        }
        await transport.shutdown()
    }

    private func sleep(until date: Date) async {
        let seconds = min(date.timeIntervalSinceNow, 86_400)
        let task = Task { _ = try? await Task.sleep(for: .seconds(max(seconds, 0))) }
        nap.withLock { $0 = task }
        // A renewNow() that came before the nap was set must not wait for it.
        if planner.withLock({ $0.nextAttempt(now: Date()) }) <= Date() { task.cancel() }
        await withGracefulShutdownHandler { await task.value } onGracefulShutdown: { task.cancel() }
        nap.withLock { $0 = nil }
    }

    private func attempt(issuer: ACMEIssuer, client: ACMEClient) async {
        let started = Date()
        let names = settings.domains.joined(separator: ",")
        logger.info("acme ordering a certificate", metadata: ["acme.domains": "\(names)", "acme.directory": "\(settings.directory)"])
        do {
            let issued = try await issuer.obtain(domains: settings.domains, email: settings.email)
            if let url = await client.accountURL, (try? store.acmeAccount(directory: settings.directory)?.url) != url {
                try? store.saveACMEAccount(.init(directory: settings.directory, keyPEM: client.key.pemRepresentation, url: url))
            }
            let facts = try CertificateRequests.leafFacts(chainPEM: issued.chainPEM)
            let entry: CertificateBook.Entry
            do {
                entry = try CertificateBook.entry(chainPEM: issued.chainPEM, keyPEM: issued.keyPEM, source: .acme)
            } catch {
                throw ACMEError.malformed("the issued certificate cannot be served: \(error)")
            }
            try store.saveACMECertificate(.init(domains: settings.domains, chainPEM: issued.chainPEM, keyPEM: issued.keyPEM,
                                                notBefore: facts.notBefore, notAfter: facts.notAfter, obtainedAt: Date()))
            book.install(acme: entry)
            book.noteACMEAttempt(at: started, error: nil)
            planner.withLock { $0.succeeded(.init(notBefore: facts.notBefore, notAfter: facts.notAfter)) }
            logger.info("acme certificate installed", metadata: [
                "certificate.names": "\(entry.names.joined(separator: ","))", "certificate.serial": "\(facts.serial)",
                "certificate.issuer": "\(entry.issuer)", "certificate.not_after": "\(facts.notAfter)",
                "acme.took": "\(String(format: "%.1f", Date().timeIntervalSince(started)))s",
            ])
        } catch {
            let acme = error as? ACMEError
            let now = Date()
            let next = planner.withLock {
                $0.failed(now: now, retryAfter: acme?.retryAfter, rateLimited: acme?.isRateLimited ?? false, random: .random(in: 0...1))
                return $0.nextAttempt(now: now)
            }
            let text = acme?.description ?? "\(error)"
            book.noteACMEAttempt(at: started, error: text)
            logger.error("acme order failed; serving what is installed", metadata: [
                "acme.domains": "\(names)", "error": "\(text)", "acme.next_attempt": "\(next.formatted(.iso8601))",
            ])
        }
    }

    /// The account key for this directory: stored, or made and stored before first use.
    private func accountKey() throws -> AccountKey {
        if let row = try store.acmeAccount(directory: settings.directory) { return try AccountKey(pem: row.keyPEM) }
        let key = AccountKey()
        try store.saveACMEAccount(.init(directory: settings.directory, keyPEM: key.pemRepresentation, url: nil))
        return key
    }
}
