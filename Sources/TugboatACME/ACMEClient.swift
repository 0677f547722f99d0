import Foundation
import Logging

/// RFC 8555 requests, one at a time: the directory, nonces (retries on `badNonce`), the account,
/// orders, authorizations, challenges, finalization and the certificate download. Every answer is
/// checked; a problem document becomes `ACMEError.problem`.
actor ACMEClient {
    let directoryURL: String
    let transport: any ACMETransport
    let key: AccountKey
    private(set) var accountURL: String?
    private var directory: ACME.Directory?
    private var nonce: String?

    init(directoryURL: String, transport: any ACMETransport, key: AccountKey, accountURL: String? = nil) {
        self.directoryURL = directoryURL
        self.transport = transport
        self.key = key
        self.accountURL = accountURL
    }

    func loadDirectory() async throws(ACMEError) -> ACME.Directory {
        if let directory { return directory }
        let response = try await transport.send(method: "GET", url: directoryURL, body: nil)
        try Self.check(response, what: "directory")
        let loaded = try ACME.decode(ACME.Directory.self, from: response.body, what: "directory")
        directory = loaded
        return loaded
    }

    /// Registers the account (or finds the existing one for this key: the server answers 200 with
    /// its URL); returns the account URL.
    func register(email: String) async throws(ACMEError) -> String {
        if let accountURL { return accountURL }
        let directory = try await loadDirectory()
        let payload = #"{"termsOfServiceAgreed":true,"contact":[\#(JSONText.quote("mailto:" + email))]}"#
        let response = try await post(directory.newAccount, payload: Data(payload.utf8), signer: .jwk)
        guard let url = response.header("location"), !url.isEmpty else { throw .malformed("newAccount: no Location") }
        accountURL = url
        return url
    }

    func newOrder(domains: [String]) async throws(ACMEError) -> (url: String, order: ACME.Order) {
        let directory = try await loadDirectory()
        let identifiers = domains.map { #"{"type":"dns","value":\#(JSONText.quote($0))}"# }.joined(separator: ",")
        let response = try await post(directory.newOrder, payload: Data(#"{"identifiers":[\#(identifiers)]}"#.utf8))
        guard let url = response.header("location") else { throw .malformed("newOrder: no Location") }
        return (url, try ACME.decode(ACME.Order.self, from: response.body, what: "order"))
    }

    /// POST-as-GET of an object, decoded; with the server's Retry-After.
    func fetch<T: Decodable>(_ type: T.Type, url: String, what: String) async throws(ACMEError) -> (T, retryAfter: Date?) {
        let response = try await post(url, payload: nil)
        return (try ACME.decode(type, from: response.body, what: what), response.retryAfter())
    }

    /// Tells the server the challenge is ready to be validated (payload `{}`).
    func respond(challenge url: String) async throws(ACMEError) {
        _ = try await post(url, payload: Data("{}".utf8))
    }

    func finalize(url: String, csrDER: [UInt8]) async throws(ACMEError) -> ACME.Order {
        let response = try await post(url, payload: Data(#"{"csr":"\#(Base64URL.encode(csrDER))"}"#.utf8))
        return try ACME.decode(ACME.Order.self, from: response.body, what: "order")
    }

    /// The certificate chain, PEM.
    func certificate(url: String) async throws(ACMEError) -> String {
        let response = try await post(url, payload: nil)
        let text = String(decoding: response.body, as: UTF8.self)
        guard text.contains("-----BEGIN CERTIFICATE-----") else { throw .malformed("certificate: not a PEM chain") }
        return text
    }

    /// A signed POST; a `badNonce` answer is retried with the fresh nonce it carries, up to
    /// `badNonceRetries` times (a server may reject any nonce: pebble rejects 5 %, so two in a row
    /// happen in a long order).
    func post(_ url: String, payload: Data?, signer: AccountKey.Signer? = nil) async throws(ACMEError) -> ACMEResponse {
        var badNonces = 0
        while true {
            let signedBy: AccountKey.Signer
            if let signer { signedBy = signer } else { signedBy = try kid() }
            let nonce = try await takeNonce()
            let body: Data
            do {
                body = try key.sign(payload: payload, url: url, nonce: nonce, signer: signedBy)
            } catch {
                throw .malformed("signing failed")
            }
            let response = try await transport.send(method: "POST", url: url, body: body)
            if let fresh = response.header("replay-nonce"), !fresh.isEmpty, fresh.utf8.count <= 256 { self.nonce = fresh }
            do {
                try Self.check(response, what: url)
                return response
            } catch {
                if case .problem(let problem, _, _) = error {
                    if problem.type == ACME.Problem.badNonce && badNonces < Self.badNonceRetries {
                        badNonces += 1
                        continue
                    }
                    // The server forgot the account (a new CA instance): register again next time.
                    if problem.type == ACME.Problem.accountDoesNotExist { accountURL = nil }
                }
                throw error
            }
        }
    }

    static let badNonceRetries = 5

    private func kid() throws(ACMEError) -> AccountKey.Signer {
        guard let accountURL else { throw .malformed("no account yet") }
        return .kid(accountURL)
    }

    private func takeNonce() async throws(ACMEError) -> String {
        if let nonce {
            self.nonce = nil
            return nonce
        }
        let directory = try await loadDirectory()
        let response = try await transport.send(method: "HEAD", url: directory.newNonce, body: nil)
        guard (200..<300).contains(response.status), let fresh = response.header("replay-nonce"), !fresh.isEmpty, fresh.utf8.count <= 256 else {
            throw .malformed("newNonce: no Replay-Nonce (status \(response.status))")
        }
        return fresh
    }

    /// A 4xx/5xx answer becomes the problem it carries (or one made from the status).
    static func check(_ response: ACMEResponse, what: String) throws(ACMEError) {
        guard response.status >= 400 else { return }
        let problem = (try? JSONDecoder().decode(ACME.Problem.self, from: response.body))
            ?? ACME.Problem(type: nil, detail: "HTTP \(response.status) for \(what)", status: response.status)
        throw .problem(problem, status: response.status, retryAfter: response.retryAfter())
    }
}
