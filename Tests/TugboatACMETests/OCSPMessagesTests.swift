import Foundation
import TestSupport
import Testing
@testable import TugboatACME

/// OCSP requests and the checks of responses, against answers `openssl ocsp` signs for the test CA.
@Suite("OCSP messages")
struct OCSPMessagesTests {
    let certificates: TestCertificates
    let site: String

    init() throws {
        certificates = try TestCertificates()
        site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"], ocspURL: "http://127.0.0.1:9/").cert
    }

    func der(_ pem: String) throws -> [UInt8] {
        let out = certificates.directory + "/" + UUID().uuidString + ".der"
        try TestCertificates.openssl(["x509", "-in", pem, "-outform", "DER", "-out", out])
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    /// `openssl ocsp` answers `request` from an index holding `lines` (status per certificate),
    /// signed by `signer` (the CA when nil).
    func answer(_ request: [UInt8], index lines: [(cert: String, status: String)], signer: (cert: String, key: String)? = nil) throws -> [UInt8] {
        let name = UUID().uuidString
        let index = "\(certificates.directory)/\(name).index", reqin = "\(certificates.directory)/\(name).req", respout = "\(certificates.directory)/\(name).resp"
        var text = ""
        for line in lines {
            let serial = try TestCertificates.serial(of: line.cert)
            text += [line.status, "301231000000Z", line.status == "R" ? "251201000000Z" : "", serial, "unknown", "/CN=x"].joined(separator: "\t") + "\n"
        }
        try text.write(toFile: index, atomically: true, encoding: .utf8)
        try Data(request).write(to: URL(fileURLWithPath: reqin))
        try TestCertificates.openssl(["ocsp", "-index", index, "-CA", certificates.caPath, "-rsigner", signer?.cert ?? certificates.caPath,
                                      "-rkey", signer?.key ?? certificates.directory + "/ca.key", "-nmin", "10",
                                      "-reqin", reqin, "-respout", respout])
        return Array(try Data(contentsOf: URL(fileURLWithPath: respout)))
    }

    @Test("our request is one openssl understands; its good answer is accepted with its validity window")
    func goodAnswer() throws {
        let certID = try OCSPMessages.CertID(leaf: try der(site), issuer: try der(certificates.caPath))
        let response = try answer(OCSPMessages.request(for: certID), index: [(site, "V")])
        let now = Date()
        let good = try OCSPMessages.check(response: response, certID: certID, issuer: try der(certificates.caPath), now: now)
        #expect(abs(good.thisUpdate.timeIntervalSince(now)) < 120)
        let window = try #require(good.nextUpdate).timeIntervalSince(good.thisUpdate)
        #expect(window > 590 && window < 610)
        // The same answer an hour later has expired.
        #expect(throws: OCSPMessages.Problem.notCurrent(thisUpdate: good.thisUpdate, nextUpdate: good.nextUpdate)) {
            try OCSPMessages.check(response: response, certID: certID, issuer: try der(certificates.caPath), now: now.addingTimeInterval(3600))
        }
    }

    @Test("revoked, unknown, another certificate's answer and an error status are refused, each saying why")
    func refusals() throws {
        let issuer = try der(certificates.caPath)
        let certID = try OCSPMessages.CertID(leaf: try der(site), issuer: issuer)
        let request = OCSPMessages.request(for: certID)
        #expect {
            try OCSPMessages.check(response: try answer(request, index: [(site, "R")]), certID: certID, issuer: issuer, now: Date())
        } throws: { error in
            guard case .revoked = error as? OCSPMessages.Problem else { return false }
            return "\(error)".contains("revoked")
        }
        #expect(throws: OCSPMessages.Problem.unknownCertificate) {
            try OCSPMessages.check(response: try answer(request, index: []), certID: certID, issuer: issuer, now: Date())
        }
        let other = try certificates.leaf("other", commonName: "other", names: ["other.test"]).cert
        let otherID = try OCSPMessages.CertID(leaf: try der(other), issuer: issuer)
        let otherAnswer = try answer(OCSPMessages.request(for: otherID), index: [(other, "V")])
        #expect(throws: OCSPMessages.Problem.notForThisCertificate) {
            try OCSPMessages.check(response: otherAnswer, certID: certID, issuer: issuer, now: Date())
        }
        // OCSPResponse { responseStatus tryLater }
        #expect(throws: OCSPMessages.Problem.responderStatus(3)) {
            try OCSPMessages.check(response: [0x30, 0x03, 0x0A, 0x01, 0x03], certID: certID, issuer: issuer, now: Date())
        }
        #expect("\(OCSPMessages.Problem.responderStatus(3))".contains("tryLater"))
    }

    @Test("an answer signed by anyone but the issuer or a responder it delegated OCSP signing to is refused")
    func signatures() throws {
        let issuer = try der(certificates.caPath)
        let certID = try OCSPMessages.CertID(leaf: try der(site), issuer: issuer)
        let request = OCSPMessages.request(for: certID)
        // A delegated responder: issued by the CA for OCSP signing.
        let delegate = try certificates.leaf("responder", commonName: "responder", names: ["responder.test"], extensions: ["extendedKeyUsage=OCSPSigning"])
        let delegated = try answer(request, index: [(site, "V")], signer: delegate)
        #expect(try OCSPMessages.check(response: delegated, certID: certID, issuer: issuer, now: Date()).nextUpdate != nil)
        // The CA's other certificate, without OCSP signing, may not speak for it.
        let plain = try certificates.leaf("plain", commonName: "plain", names: ["plain.test"])
        #expect(throws: OCSPMessages.Problem.badSignature) {
            try OCSPMessages.check(response: try answer(request, index: [(site, "V")], signer: plain), certID: certID, issuer: issuer, now: Date())
        }
        // Another CA's key.
        let stranger = try TestCertificates()
        #expect(throws: OCSPMessages.Problem.badSignature) {
            try OCSPMessages.check(response: try answer(request, index: [(site, "V")], signer: (stranger.caPath, stranger.directory + "/ca.key")),
                                   certID: certID, issuer: issuer, now: Date())
        }
    }

    @Test("every truncation and a thousand corruptions of a good answer are refused without a crash or a read past it")
    func malformed() throws {
        let issuer = try der(certificates.caPath)
        let certID = try OCSPMessages.CertID(leaf: try der(site), issuer: issuer)
        let response = try answer(OCSPMessages.request(for: certID), index: [(site, "V")])
        for length in 0..<response.count {
            #expect(throws: OCSPMessages.Problem.self) {
                try OCSPMessages.check(response: Array(response.prefix(length)), certID: certID, issuer: issuer, now: Date())
            }
        }
        var generator = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<1000 {
            var corrupted = response
            for _ in 0..<3 { corrupted[Int.random(in: 0..<corrupted.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            if (try? OCSPMessages.check(response: corrupted, certID: certID, issuer: issuer, now: Date())) != nil { accepted += 1 }
        }
        // Only corruptions outside the signed data and the signature can pass (the response's
        // certificate list, unused by a response the issuer signed itself): never most of them.
        #expect(accepted < 200)
    }
}

@Suite("OCSP refresh plan")
struct OCSPRefreshPlanTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    @Test("a good answer is refreshed halfway through its window, within a minute and a day from now")
    func afterGood() {
        #expect(OCSPRefreshPlan.afterGood(thisUpdate: now, nextUpdate: now + 7 * 86_400, now: now) == now + 86_400)
        #expect(OCSPRefreshPlan.afterGood(thisUpdate: now - 3600, nextUpdate: now + 3600, now: now) == now + 60)
        #expect(OCSPRefreshPlan.afterGood(thisUpdate: now, nextUpdate: now + 4 * 3600, now: now) == now + 2 * 3600)
        #expect(OCSPRefreshPlan.afterGood(thisUpdate: now, nextUpdate: nil, now: now) == now + 3600)
    }

    @Test("failures are retried after a minute, doubling up to an hour")
    func afterFailure() {
        #expect(OCSPRefreshPlan.afterFailure(1, now: now) == now + 60)
        #expect(OCSPRefreshPlan.afterFailure(2, now: now) == now + 120)
        #expect(OCSPRefreshPlan.afterFailure(6, now: now) == now + 1920)
        #expect(OCSPRefreshPlan.afterFailure(7, now: now) == now + 3600)
        #expect(OCSPRefreshPlan.afterFailure(1000, now: now) == now + 3600)
    }
}
