import Foundation
import Logging
import TugboatProxy

/// One certificate order, start to finish: account, order, HTTP-01 for every pending
/// authorization (answered by the redirect listener through `ACMEChallenges`), finalization with
/// a new key's CSR, download. Polls with the server's Retry-After, within `pollLimit`.
struct ACMEIssuer: Sendable {
    struct Issued: Sendable {
        var chainPEM: String
        var keyPEM: String
    }

    let client: ACMEClient
    let challenges: ACMEChallenges
    let logger: Logger
    var pollLimit: Duration = .seconds(120)

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
        guard let challenge = authorization.challenges.first(where: { $0.type == "http-01" }) else {
            throw .invalid("\(name): the server offers no http-01 challenge")
        }
        guard let token = challenge.token, !token.isEmpty, token.utf8.count <= 256,
              token.utf8.allSatisfy({ $0.isBase64URL }) else { throw .malformed("\(name): http-01 token missing or not base64url") }
        // At start the order may be faster than the redirect listener's bind: the CA would dial
        // nothing and the authorization would be lost. Wait for it (bounded).
        for _ in 0..<100 where !challenges.isListening {
            do { try await Task.sleep(for: .milliseconds(100)) } catch { throw .timedOut("redirect listener: cancelled") }
        }
        guard challenges.isListening else { throw .invalid("\(name): the redirect listener (tls.redirect) is not listening") }
        challenges.set(token: token, keyAuthorization: client.key.keyAuthorization(token: token))
        defer { challenges.remove(token: token) }
        try await client.respond(challenge: challenge.url)
        _ = try await poll(url, what: "authorization of \(name)") { (authorization: ACME.Authorization) throws(ACMEError) in
            switch authorization.status {
            case "valid": return true
            case "pending", "processing": return false
            default:
                let problem = authorization.challenges.first(where: { $0.type == "http-01" })?.error
                throw .invalid("\(name): authorization \(authorization.status)" + (problem.map { ": \($0)" } ?? ""))
            }
        }
        logger.info("acme authorization valid", metadata: ["acme.domain": "\(name)"])
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

extension UInt8 {
    var isBase64URL: Bool {
        (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) || (self >= 0x30 && self <= 0x39) || self == 0x2D || self == 0x5F
    }
}
