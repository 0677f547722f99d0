import Foundation
import Logging
import NIOSSL
import TugboatProxy

/// One certificate order, start to finish: account, order, HTTP-01 (answered by the redirect
/// listener through `ACMEChallenges`) or TLS-ALPN-01 (answered by the public listener) for every
/// pending authorization, finalization with a new key's CSR, download. Polls with the server's
/// Retry-After, within `pollLimit`.
struct ACMEIssuer: Sendable {
    struct Issued: Sendable {
        var chainPEM: String
        var keyPEM: String
    }

    let client: ACMEClient
    let challenges: ACMEChallenges
    /// With several nodes: answers are published there too, for whichever node the CA reaches.
    var shared: ACMESharedState?
    let logger: Logger
    var pollLimit: Duration = .seconds(120)
    var challengeType: TLSSettings.ACME.Challenge = .http01

    func obtain(domains: [String], email: String) async throws(ACMEError) -> Issued {
        _ = try await client.register(email: email)
        let (orderURL, order) = try await client.newOrder(domains: domains)
        logger.info("acme order created", metadata: ["acme.order": "\(orderURL)", "acme.domains": "\(domains.joined(separator: ","))"])
        for url in order.authorizations.prefix(100) {
            try await authorize(url)
        }
        let ready = try await poll(orderURL, what: "order ready") { (order: ACME.Order) throws(ACMEError) in
            switch order.status {
            case "ready", "valid", "processing": return true
            case "pending": return false
            default: throw .invalid("order \(order.status)" + (order.error.map { ": \($0)" } ?? ""))
            }
        }
        let (key, keyPEM) = CertificateRequests.newKey()
        var final = ready
        if ready.status == "ready" {
            let csr: [UInt8]
            do { csr = try CertificateRequests.csr(domains: domains, key: key) } catch { throw .malformed("CSR: \(error)") }
            final = try await client.finalize(url: ready.finalize, csrDER: csr)
        } else if ready.status == "valid" {
            throw .invalid("order already finalized without this client's key")
        }
        if final.status != "valid" {
            final = try await poll(orderURL, what: "certificate issued") { (order: ACME.Order) throws(ACMEError) in
                switch order.status {
                case "valid": return true
                case "processing", "ready": return false
                default: throw .invalid("order \(order.status)" + (order.error.map { ": \($0)" } ?? ""))
                }
            }
        }
        guard let certificateURL = final.certificate else { throw .malformed("valid order without a certificate URL") }
        return Issued(chainPEM: try await client.certificate(url: certificateURL), keyPEM: keyPEM)
    }

    private func authorize(_ url: String) async throws(ACMEError) {
        let (authorization, _) = try await client.fetch(ACME.Authorization.self, url: url, what: "authorization")
        let name = authorization.identifier.value
        switch authorization.status {
        case "valid": return  // reused from an earlier order
        case "pending": break
        default: throw .invalid("\(name): authorization \(authorization.status)")
        }
        let type = challengeType.rawValue
        guard let challenge = authorization.challenges.first(where: { $0.type == type }) else {
            throw .invalid("\(name): the server offers no \(type) challenge")
        }
        guard let token = challenge.token, !token.isEmpty, token.utf8.count <= 256,
              token.utf8.allSatisfy(ACMEChallenges.isBase64URL) else { throw .malformed("\(name): \(type) token missing or not base64url") }
        let keyAuthorization = client.key.keyAuthorization(token: token)
        if challengeType == .tlsALPN01 {
            try await answerOverTLSALPN(name: name, keyAuthorization: keyAuthorization, authorization: url, challenge: challenge.url)
            logger.info("acme authorization valid", metadata: ["acme.domain": "\(name)", "acme.challenge": "\(type)"])
            return
        }
        // At start the order may be faster than the redirect listener's bind: the CA would dial
        // nothing and the authorization would be lost. Wait for it (bounded).
        for _ in 0..<100 where !challenges.isListening {
            do { try await Task.sleep(for: .milliseconds(100)) } catch { throw .timedOut("redirect listener: cancelled") }
        }
        guard challenges.isListening else { throw .invalid("\(name): the redirect listener (tls.redirect) is not listening") }
        challenges.set(token: token, keyAuthorization: keyAuthorization)
        defer { challenges.remove(token: token) }
        if let shared {
            do {
                try await shared.publishChallenge(token: token, keyAuthorization: keyAuthorization)
            } catch {
                throw .invalid("\(name): the challenge answer could not be shared with the other nodes: \(error)")
            }
        }
        do {
            try await validate(authorization: url, challenge: challenge.url, name: name)
        } catch {
            await shared?.withdrawChallenge(token: token)
            throw error
        }
        await shared?.withdrawChallenge(token: token)
        logger.info("acme authorization valid", metadata: ["acme.domain": "\(name)"])
    }

    /// TLS-ALPN-01: the public listener serves `name`'s validation certificate to handshakes that
    /// offer only `acme-tls/1` while the CA validates.
    private func answerOverTLSALPN(name: String, keyAuthorization: String, authorization: String, challenge: String) async throws(ACMEError) {
        let context: NIOSSLContext
        do {
            let (certificatePEM, keyPEM) = try CertificateRequests.validationCertificate(domain: name, keyAuthorization: keyAuthorization)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)))
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = [ACMEChallenges.tlsALPNProtocol]
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .malformed("\(name): the TLS-ALPN-01 validation certificate: \(error)")
        }
        challenges.setValidation(domain: name, context: context)
        defer { challenges.removeValidation(domain: name) }
        try await validate(authorization: authorization, challenge: challenge, name: name)
    }

    /// Tells the server the challenge is ready, then polls the authorization until it is decided.
    private func validate(authorization url: String, challenge: String, name: String) async throws(ACMEError) {
        try await client.respond(challenge: challenge)
        _ = try await poll(url, what: "authorization of \(name)") { (authorization: ACME.Authorization) throws(ACMEError) in
            switch authorization.status {
            case "valid": return true
            case "pending", "processing": return false
            default:
                let problem = authorization.challenges.first(where: { $0.type == challengeType.rawValue })?.error
                throw .invalid("\(name): authorization \(authorization.status)" + (problem.map { ": \($0)" } ?? ""))
            }
        }
    }

    /// Fetches `url` until `done` says so, waiting the server's Retry-After (1 s when it gives
    /// none; 0.2…10 s) between fetches, for at most `pollLimit`.
    private func poll<T: Decodable & Sendable>(_ url: String, what: String,
                                              _ done: (T) throws(ACMEError) -> Bool) async throws(ACMEError) -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + pollLimit
        while true {
            let (object, retryAfter) = try await client.fetch(T.self, url: url, what: what)
            if try done(object) { return object }
            let wait = min(max(retryAfter.map { $0.timeIntervalSinceNow } ?? 1, 0.2), 10)
            guard clock.now + .seconds(wait) < deadline else { throw .timedOut(what) }
            do { try await Task.sleep(for: .seconds(wait)) } catch { throw .timedOut("\(what): cancelled") }
        }
    }
}
