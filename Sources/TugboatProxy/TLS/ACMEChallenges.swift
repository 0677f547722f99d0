import NIOCore
import NIOSSL
import Synchronization

/// The HTTP-01 challenges being answered: token → key authorization. The ACME service adds one
/// before telling the server to validate and removes it once the authorization is decided; the
/// redirect listener answers `GET /.well-known/acme-challenge/<token>` from it.
package final class ACMEChallenges: Sendable {
    package static let pathPrefix = "/.well-known/acme-challenge/"
    private let answers = Mutex<[String: String]>([:])
    private let listening = Atomic<Bool>(false)
    /// With `state: redis://`: where answers published by other nodes are found (the CA may
    /// reach this node for an order the leader placed).
    private let elsewhere = Mutex<(@Sendable (String) async -> String?)?>(nil)

    /// TLS-ALPN-01 (RFC 8737, `tls.acme.challenge: tls-alpn-01`): domain → the TLS context that
    /// serves its validation certificate to a handshake offering only `acme-tls/1`.
    private let validations = Mutex<[String: NIOSSLContext]>([:])
    package static let tlsALPNProtocol = "acme-tls/1"

    package init() {}

    package func setValidation(domain: String, context: NIOSSLContext) { validations.withLock { $0[domain.lowercased()] = context } }
    package func removeValidation(domain: String) { _ = validations.withLock { $0.removeValue(forKey: domain.lowercased()) } }

    /// The validation context for a ClientHello, when it is an ACME validation of a name being
    /// validated now (only `acme-tls/1` offered, RFC 8737 §3); nil for every other handshake.
    func validationContext(serverName: String?, protocols: [String]) -> NIOSSLContext? {
        guard protocols == [Self.tlsALPNProtocol], let serverName else { return nil }
        return validations.withLock { $0[serverName] }
    }

    /// Set by the redirect listener once it is bound: a challenge is only worth answering then.
    package func listenerReady() { listening.store(true, ordering: .releasing) }
    package var isListening: Bool { listening.load(ordering: .acquiring) }

    package func set(token: String, keyAuthorization: String) { answers.withLock { $0[token] = keyAuthorization } }
    package func remove(token: String) { _ = answers.withLock { $0.removeValue(forKey: token) } }

    /// Answers this node does not hold are looked up with `lookup` (the cluster's shared ones).
    package func lookUpElsewhere(_ lookup: @escaping @Sendable (String) async -> String?) { elsewhere.withLock { $0 = lookup } }

    /// For a challenge path whose token this node does not hold, when answers are shared: the
    /// shared answer (nil: none), on `eventLoop`. Nil when nothing is shared or the token is not
    /// a plausible one (base64url, at most 256 bytes), so a stranger's guesses never reach Redis.
    func answerElsewhere(target: String, on eventLoop: EventLoop) -> EventLoopFuture<String?>? {
        guard let lookup = elsewhere.withLock({ $0 }), target.hasPrefix(Self.pathPrefix) else { return nil }
        let token = String(target.dropFirst(Self.pathPrefix.count))
        guard !token.isEmpty, token.utf8.count <= 256, token.utf8.allSatisfy(Self.isBase64URL) else { return nil }
        return eventLoop.makeFutureWithTask { await lookup(token) }
    }

    /// A byte of base64url's alphabet (tokens are made of them, RFC 8555 §8.3).
    package static func isBase64URL(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
    }

    /// For a request target: nil when it is not a challenge path (it gets the 308), otherwise
    /// the key authorization, or "" for a token not being answered (404).
    func answer(target: String) -> String? {
        guard target.hasPrefix(Self.pathPrefix) else { return nil }
        let token = target.dropFirst(Self.pathPrefix.count)
        return answers.withLock { $0[String(token)] } ?? ""
    }
}
