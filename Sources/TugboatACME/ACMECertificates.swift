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
///
/// With `shared` (several nodes on one Redis) only the leader orders: the certificate and the
/// account go to Redis (and to each node's own store, so a restart serves at once), every node
/// installs the shared certificate when it changes (checked every `syncInterval`), the HTTP-01
/// answers are published for whichever node the CA reaches, and a renewal asked for on another
/// node is handed to the leader.
package final class ACMECertificates: Service, Sendable {
    private let settings: TLSSettings.ACME
    private let book: CertificateBook
    private let store: Store
    private let challenges: ACMEChallenges
    private let shared: ACMESharedState?
    private let syncInterval: TimeInterval
    /// The certificate installed from the store, the shared state or an order (to tell a new shared one).
    private let installed = Mutex<Store.ACMECertificateRow?>(nil)
    private let group: EventLoopGroup
    private let logger: Logger
    private let planner: Mutex<RenewalPlanner>
    private let nap = Mutex<Task<Void, Never>?>(nil)
    private let policy: RenewalPlanner.Policy

    /// Installs what handshakes for the domains get until the first order completes: the stored
    /// certificate, or a placeholder. Call before the listener builds its TLS context.
    package init(settings: TLSSettings.ACME, book: CertificateBook, store: Store, challenges: ACMEChallenges,
                group: EventLoopGroup, logger: Logger, shared: ACMESharedState? = nil, syncInterval: TimeInterval = 5) async throws {
        self.settings = settings
        self.book = book
        self.store = store
        self.challenges = challenges
        self.shared = shared
        self.syncInterval = syncInterval
        if let shared {
            challenges.lookUpElsewhere { [logger] token in
                let answer = await shared.challenge(token: token)
                if answer != nil { logger.info("acme challenge answered for the leader", metadata: ["acme.token": "\(token)"]) }
                return answer
            }
        }
        self.group = group
        self.logger = logger
        policy = RenewalPlanner.Policy()
        var validity: RenewalPlanner.Validity?
        if let stored = try await store.acmeCertificate(domains: settings.domains), stored.notAfter > Date(),
           let entry = try? CertificateBook.entry(chainPEM: stored.chainPEM, keyPEM: stored.keyPEM, source: .acme) {
            book.install(acme: entry)
            installed.withLock { $0 = stored }
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

    /// The admin action: order at once (the running attempt, if any, finishes first). On a node
    /// that is not the leader the request is handed to the leader through the shared state.
    package func renewNow() {
        if let shared, !shared.mayOrder {
            let logger = logger
            Task {
                do { try await shared.requestRenewal() } catch {
                    logger.error("acme renewal request not passed to the leader", metadata: ["error": "\(error)"])
                }
            }
            return
        }
        planner.withLock { $0.renewNow() }
        nap.withLock { $0?.cancel() }
    }

    package func run() async throws {
        let transport = try HTTPTransport(ca: settings.ca, group: group)
        var ordering: (client: ACMEClient, issuer: ACMEIssuer)?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if let shared { await sync(from: shared) }
            let now = Date()
            let next = planner.withLock { $0.nextAttempt(now: now) }
            guard next <= now, shared?.mayOrder ?? true else {
                // With a shared state, look again soon: a new certificate, a leader change.
                await sleep(until: shared == nil ? next : min(next, now.addingTimeInterval(syncInterval)))
                continue
            }
            do {
                if ordering == nil {
                    let client = try await accountClient(transport: transport)
                    ordering = (client, ACMEIssuer(client: client, challenges: challenges, shared: shared, logger: logger,
                                                          challengeType: settings.challenge))
                }
            } catch {
                logger.error("acme account not readable; retrying", metadata: ["error": "\(error)"])
                await sleep(until: Date().addingTimeInterval(syncInterval))
                continue
            }
            guard let (client, issuer) = ordering else { continue }
            // A shutdown does not wait for an order in progress (its polls may take minutes).
            await cancelWhenGracefulShutdown { await self.attempt(issuer: issuer, client: client) }
        }
        await transport.shutdown()
    }

    /// Installs the shared certificate when it is not the one being served (another node, the
    /// leader, obtained it), keeping a copy in this node's store; the leader also takes a renewal
    /// asked for elsewhere. Redis being down changes nothing: what is installed stays.
    private func sync(from shared: ACMESharedState) async {
        if shared.mayOrder, await shared.takeRenewalRequest() {
            planner.withLock { $0.renewNow() }
        }
        let row: Store.ACMECertificateRow?
        do {
            row = try await shared.certificate(domains: settings.domains)
        } catch {
            logger.debug("acme shared certificate not readable", metadata: ["error": "\(error)"])
            return
        }
        let current = installed.withLock { $0 }
        guard let row, row.notAfter > Date(), row.notAfter >= (current?.notAfter ?? .distantPast) else {
            // The leader shares a newer certificate it holds (one obtained before the cluster, or
            // while Redis was down).
            if shared.mayOrder, let current, current.notAfter > Date() { try? await shared.save(current) }
            return
        }
        guard current?.chainPEM != row.chainPEM else { return }
        let entry: CertificateBook.Entry
        do {
            entry = try CertificateBook.entry(chainPEM: row.chainPEM, keyPEM: row.keyPEM, source: .acme)
        } catch {
            logger.error("acme shared certificate cannot be served; keeping the installed one", metadata: ["error": "\(error)"])
            return
        }
        try? await store.saveACMECertificate(row)
        book.install(acme: entry)
        installed.withLock { $0 = row }
        planner.withLock { $0.succeeded(.init(notBefore: row.notBefore, notAfter: row.notAfter)) }
        logger.info("acme certificate installed from the shared state", metadata: [
            "certificate.names": "\(entry.names.joined(separator: ","))", "certificate.not_after": "\(row.notAfter)",
        ])
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
            if let url = await client.accountURL, (try? await store.acmeAccount(directory: settings.directory)?.url) != url {
                let account = Store.ACMEAccountRow(directory: settings.directory, keyPEM: client.key.pemRepresentation, url: url)
                try? await store.saveACMEAccount(account)
                try? await shared?.save(account)
            }
            let facts = try CertificateRequests.leafFacts(chainPEM: issued.chainPEM)
            let entry: CertificateBook.Entry
            do {
                entry = try CertificateBook.entry(chainPEM: issued.chainPEM, keyPEM: issued.keyPEM, source: .acme)
            } catch {
                throw ACMEError.malformed("the issued certificate cannot be served: \(error)")
            }
            let row = Store.ACMECertificateRow(domains: settings.domains, chainPEM: issued.chainPEM, keyPEM: issued.keyPEM,
                                               notBefore: facts.notBefore, notAfter: facts.notAfter, obtainedAt: Date())
            try await store.saveACMECertificate(row)
            if let shared {
                do { try await shared.save(row) } catch {
                    // Served here anyway; the next order (or a retry of this save) shares it.
                    throw ACMEError.invalid("the certificate could not be shared with the other nodes: \(error)")
                }
            }
            book.install(acme: entry)
            installed.withLock { $0 = row }
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

    /// The client with this directory's account: the shared one (several nodes), else the
    /// stored one, else a new key, stored (and shared) before first use.
    private func accountClient(transport: HTTPTransport) async throws -> ACMEClient {
        var row = try await shared?.account(directory: settings.directory)
        if row == nil { row = try await store.acmeAccount(directory: settings.directory) }
        if row == nil {
            row = .init(directory: settings.directory, keyPEM: AccountKey().pemRepresentation, url: nil)
            try await store.saveACMEAccount(row!)
        }
        guard let row else { throw ACMEError.malformed("no account") }
        if let shared { try await shared.save(row) }
        return ACMEClient(directoryURL: settings.directory, transport: transport, key: try AccountKey(pem: row.keyPEM), accountURL: row.url)
    }
}
