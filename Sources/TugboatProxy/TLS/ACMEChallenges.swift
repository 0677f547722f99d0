import Synchronization

/// The HTTP-01 challenges being answered: token → key authorization. The ACME service adds one
/// before telling the server to validate and removes it once the authorization is decided; the
/// redirect listener answers `GET /.well-known/acme-challenge/<token>` from it.
public final class ACMEChallenges: Sendable {
    public static let pathPrefix = "/.well-known/acme-challenge/"
    private let answers = Mutex<[String: String]>([:])
    private let listening = Atomic<Bool>(false)

    public init() {}

    /// Set by the redirect listener once it is bound: a challenge is only worth answering then.
    public func listenerReady() { listening.store(true, ordering: .releasing) }
    public var isListening: Bool { listening.load(ordering: .acquiring) }

    public func set(token: String, keyAuthorization: String) { answers.withLock { $0[token] = keyAuthorization } }
    public func remove(token: String) { _ = answers.withLock { $0.removeValue(forKey: token) } }

    /// For a request target: nil when it is not a challenge path (it gets the 308), otherwise
    /// the key authorization, or "" for a token not being answered (404).
    func answer(target: String) -> String? {
        guard target.hasPrefix(Self.pathPrefix) else { return nil }
        let token = target.dropFirst(Self.pathPrefix.count)
        return answers.withLock { $0[String(token)] } ?? ""
    }
}
