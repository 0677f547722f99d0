import Foundation
import TestSupport
import Testing

/// OCSP stapling at the front: a real responder (answers signed by `openssl ocsp`) on loopback,
/// the certificate naming it, `openssl s_client -status` as the client that asks for the status.
@Suite("OCSP stapling", .serialized)
struct OCSPStaplingTests {
    let get = "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

    func tugboat(_ chain: String, key: String, backend: DemoBackend, extraTLS: String = "",
                 more: [(cert: String, key: String)] = []) throws -> TugboatUnderTest {
        let list = ([(chain, key)] + more).map { "    - { cert: \($0.0), key: \($0.1) }" }.joined(separator: "\n")
        return try TugboatUnderTest(backends: [backend.address], extraTop: "tls:\n  certificates:\n\(list)\n\(extraTLS)")
    }

    /// The `ocsp` object of the first certificate in `/api/certificates`.
    func ocsp(_ tugboat: TugboatUnderTest, _ index: Int = 0) throws -> [String: Any]? {
        let listed = try tugboat.admin("/api/certificates") as? [[String: Any]] ?? []
        return listed.count > index ? listed[index]["ocsp"] as? [String: Any] : nil
    }

    func status(_ tugboat: TugboatUnderTest, certificates: TestCertificates, serverName: String = "localhost") throws -> String {
        try TestCertificates.client(port: tugboat.port, serverName: serverName, ca: certificates.caPath, request: get, extra: ["-status"])
    }

    @Test("a client that asks for the certificate's status gets the responder's signed answer; the API shows it")
    func staples() throws {
        let certificates = try TestCertificates()
        let responder = try OCSPResponder(certificates: certificates)
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"], ocspURL: responder.url)
        let bare = try certificates.leaf("bare", commonName: "bare.test", names: ["bare.test"])
        try responder.record(site.cert)
        let backend = try DemoBackend()
        let tugboat = try tugboat(try certificates.chain(site.cert), key: site.key, backend: backend, more: [bare])
        try tugboat.waitHealthy([backend.address])
        try waitUntilBlocking("the response stapled") { try ocsp(tugboat)?["stapled"] as? Bool == true }

        let answer = try status(tugboat, certificates: certificates)
        #expect(answer.contains("OCSP Response Status: successful"), "\(answer)")
        #expect(answer.contains("Cert Status: good"), "\(answer)")
        #expect(answer.contains("HTTP/1.1 200"), "\(answer)")
        let view = try #require(try ocsp(tugboat))
        #expect(view["last_error"] is NSNull)
        #expect(view["next_update"] is String && view["this_update"] is String)
        // A certificate that names no responder is served without a staple, and has no OCSP state.
        let unstapled = try status(tugboat, certificates: certificates, serverName: "bare.test")
        #expect(unstapled.contains("OCSP response: no response sent"), "\(unstapled)")
        #expect(unstapled.contains("HTTP/1.1 200"), "\(unstapled)")
        #expect(try ocsp(tugboat, 1) == nil)
    }

    @Test("a revoked certificate is never stapled, and the log and the API say it was revoked")
    func revoked() throws {
        let certificates = try TestCertificates()
        let responder = try OCSPResponder(certificates: certificates)
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"], ocspURL: responder.url)
        try responder.record(site.cert, revoked: true)
        let backend = try DemoBackend()
        let tugboat = try tugboat(try certificates.chain(site.cert), key: site.key, backend: backend)
        try waitUntilBlocking("the revocation noticed") { (try ocsp(tugboat)?["last_error"] as? String)?.contains("revoked") == true }
        #expect(try ocsp(tugboat)?["stapled"] as? Bool == false)
        _ = try tugboat.child.waitForLine(timeout: 5) { $0.contains("certificate revoked") }
        let answer = try status(tugboat, certificates: certificates)
        #expect(answer.contains("OCSP response: no response sent"), "\(answer)")
    }

    @Test("a responder that fails, answers garbage, too much or too slowly leaves handshakes unstapled and says why; stapling can be switched off",
          arguments: [OCSPResponder.Mode.error, .garbage, .huge, .drip])
    func responderFails(_ mode: OCSPResponder.Mode) throws {
        let certificates = try TestCertificates()
        let responder = try OCSPResponder(certificates: certificates)
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"], ocspURL: responder.url)
        try responder.record(site.cert)
        try responder.fail(mode)
        let backend = try DemoBackend()
        let tugboat = try tugboat(try certificates.chain(site.cert), key: site.key, backend: backend)
        try tugboat.waitHealthy([backend.address])
        let expected = switch mode {
        case .error: "HTTP 500"
        case .huge: "larger than 65536 bytes"
        case .drip: "no complete answer within 10 s"
        default: "not an OCSP response"
        }
        try waitUntilBlocking("the failure shown") { (try ocsp(tugboat)?["last_error"] as? String)?.contains(expected) == true }
        let answer = try status(tugboat, certificates: certificates)
        #expect(answer.contains("OCSP response: no response sent"), "\(answer)")
        #expect(answer.contains("HTTP/1.1 200"), "\(answer)")
        _ = try tugboat.child.waitForLine(timeout: 5) { $0.contains("OCSP response not fetched") && $0.contains("ocsp.retry_in_seconds=60") }

        // tls.ocsp-stapling: false — the responder is never asked.
        try responder.fail(.normal)
        let asked = responder.requests
        #expect(asked >= 1)
        let off = try self.tugboat(try certificates.chain(site.cert), key: site.key, backend: backend, extraTLS: "  ocsp-stapling: false")
        try off.waitHealthy([backend.address])
        #expect(try status(off, certificates: certificates).contains("OCSP response: no response sent"))
        #expect(try ocsp(off) == nil)
        #expect(responder.requests == asked)
    }
}
