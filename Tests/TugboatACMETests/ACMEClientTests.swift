import Crypto
import Foundation
import Synchronization
import Testing
@testable import TugboatACME

/// A scripted ACME server: answers in order, records what was sent.
final class ScriptedTransport: ACMETransport, @unchecked Sendable {
    let answers: Mutex<[ACMEResponse]>
    let sent = Mutex<[(method: String, url: String, body: Data?)]>([])

    init(_ answers: [ACMEResponse]) { self.answers = Mutex(answers) }

    func send(method: String, url: String, body: Data?) async throws(ACMEError) -> ACMEResponse {
        sent.withLock { $0.append((method, url, body)) }
        return answers.withLock { $0.isEmpty ? ACMEResponse(status: 500, headers: [:], body: Data()) : $0.removeFirst() }
    }
}

@Suite("ACME client: JWS, nonces, broken servers")
struct ACMEClientTests {
    static let directory = ACMEResponse(status: 200, headers: [:], body: Data("""
        {"newNonce":"https://ca.test/nonce","newAccount":"https://ca.test/acct","newOrder":"https://ca.test/order","meta":{"x":1}}
        """.utf8))
    static let nonce = ACMEResponse(status: 200, headers: ["replay-nonce": "n1"], body: Data())

    @Test("the JWK thumbprint is RFC 7638's (checked against the RFC's own construction), the JWS verifies with the account key")
    func jwsAndThumbprint() throws {
        let key = AccountKey()
        let raw = key.key.publicKey.rawRepresentation
        #expect(key.jwk == #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))"}"#)
        #expect(key.thumbprint == Base64URL.encode(Data(SHA256.hash(data: Data(key.jwk.utf8)))))
        #expect(key.keyAuthorization(token: "tok") == "tok." + key.thumbprint)
        #expect(!key.thumbprint.contains("=") && !key.thumbprint.contains("+") && !key.thumbprint.contains("/"))

        let body = try key.sign(payload: Data("{}".utf8), url: "https://ca.test/x", nonce: "abc", signer: .kid("https://ca.test/acct/1"))
        let jws = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        let protected = try #require(Base64URL.decode(jws["protected"]!))
        let header = try #require(try JSONSerialization.jsonObject(with: protected) as? [String: String])
        #expect(header == ["alg": "ES256", "kid": "https://ca.test/acct/1", "nonce": "abc", "url": "https://ca.test/x"])
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: try #require(Base64URL.decode(jws["signature"]!)))
        #expect(key.key.publicKey.isValidSignature(signature, for: Data((jws["protected"]! + "." + jws["payload"]!).utf8)))
        #expect(Base64URL.decode(jws["payload"]!) == Data("{}".utf8))
        // The stored form gives back the same key.
        #expect(try AccountKey(pem: key.pemRepresentation).thumbprint == key.thumbprint)
    }

    @Test("a badNonce answer is retried with the nonce it carries (two in a row too); after the last retry it is the error")
    func badNonceRetry() async throws {
        let bad = ACMEResponse(status: 400, headers: ["replay-nonce": "n2", "content-type": "application/problem+json"],
                               body: Data(#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}"#.utf8))
        let created = ACMEResponse(status: 201, headers: ["location": "https://ca.test/acct/7", "replay-nonce": "n3"], body: Data("{}".utf8))
        let transport = ScriptedTransport([Self.directory, Self.nonce, bad, bad, created])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: transport, key: AccountKey())
        #expect(try await client.register(email: "ops@example.com") == "https://ca.test/acct/7")
        let posts = transport.sent.withLock { $0.filter { $0.method == "POST" } }
        #expect(posts.count == 3)
        let second = try JSONSerialization.jsonObject(with: posts[2].body!) as? [String: String]
        let header = try JSONSerialization.jsonObject(with: Base64URL.decode(second!["protected"]!)!) as? [String: Any]
        #expect(header?["nonce"] as? String == "n2")
        #expect(header?["jwk"] != nil)
        let payload = try JSONSerialization.jsonObject(with: Base64URL.decode(second!["payload"]!)!) as? [String: Any]
        #expect(payload?["contact"] as? [String] == ["mailto:ops@example.com"])
        #expect(payload?["termsOfServiceAgreed"] as? Bool == true)

        let always = ScriptedTransport([Self.directory, Self.nonce] + Array(repeating: bad, count: ACMEClient.badNonceRetries + 1) + [created])
        let failing = ACMEClient(directoryURL: "https://ca.test/dir", transport: always, key: AccountKey())
        await #expect(throws: ACMEError.self) { _ = try await failing.register(email: "ops@example.com") }
        #expect(always.sent.withLock { $0.filter { $0.method == "POST" } }.count == ACMEClient.badNonceRetries + 1)
    }

    @Test("garbage, wrong shapes and problem documents become errors that say what happened", arguments: [
        ("not json at all", 200, "directory: not the expected JSON"),
        (#"{"newNonce": 5}"#, 200, "directory: not the expected JSON"),
        (#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates"}"#, 429, "429: rateLimited: too many certificates"),
        ("<html>busy</html>", 503, "503: HTTP 503 for directory"),
        ("100000 nested arrays", 200, "directory: not the expected JSON"),
    ])
    func brokenServer(body: String, status: Int, expected: String) async {
        let body = body == "100000 nested arrays" ? String(repeating: "[", count: 100_000) : body
        let transport = ScriptedTransport([ACMEResponse(status: status, headers: ["retry-after": "120"], body: Data(body.utf8))])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: transport, key: AccountKey())
        do {
            _ = try await client.loadDirectory()
            Issue.record("no error")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
            if status == 429 {
                #expect(error.isRateLimited)
                #expect(error.retryAfter.map { $0.timeIntervalSinceNow > 100 } == true)
            }
        }
    }

    @Test("Retry-After: seconds or an HTTP date, never more than a day")
    func retryAfter() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(ACMEResponse(status: 200, headers: ["retry-after": "30"], body: Data()).retryAfter(now: now) == now.addingTimeInterval(30))
        #expect(ACMEResponse(status: 200, headers: ["retry-after": "99999999"], body: Data()).retryAfter(now: now) == now.addingTimeInterval(86_400))
        let date = ACMEResponse(status: 200, headers: ["retry-after": "Fri, 15 Jan 2027 08:00:30 GMT"], body: Data()).retryAfter(now: now)
        #expect(date == now.addingTimeInterval(30))
        let far = ACMEResponse(status: 200, headers: ["retry-after": "Fri, 15 Jan 2100 08:00:30 GMT"], body: Data()).retryAfter(now: now)
        #expect(far == now.addingTimeInterval(86_400))
        #expect(ACMEResponse(status: 200, headers: ["retry-after": "soon"], body: Data()).retryAfter(now: now) == nil)
    }

    @Test("a CSR names every domain; the placeholder is self-signed for the domains")
    func csrAndPlaceholder() throws {
        let (key, _) = CertificateRequests.newKey()
        let der = try CertificateRequests.csr(domains: ["tugboat.test", "www.tugboat.test"], key: key)
        #expect(der.count > 100)
        let text = String(decoding: der, as: UTF8.self)
        #expect(text.contains("tugboat.test") && text.contains("www.tugboat.test"))
        let placeholder = try CertificateRequests.placeholder(domains: ["tugboat.test"])
        let facts = try CertificateRequests.leafFacts(chainPEM: placeholder.chainPEM)
        #expect(facts.notAfter > Date())
        #expect(throws: (any Error).self) { try CertificateRequests.leafFacts(chainPEM: "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----") }
    }
}
