import Foundation
import Logging
import TestSupport
import Testing
@testable import TugboatProxy

/// What the book keeps of OCSP: a response per certificate, stapled only while valid, kept across a
/// reload of the same certificate and dropped with a new one.
@Suite("Certificate book: OCSP responses")
struct CertificateBookOCSPTests {
    @Test("a response is stapled for its certificate's names while valid; a reload of the same certificate keeps it, a new one drops it")
    func staples() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"])
        let other = try certificates.leaf("other", commonName: "other.test", names: ["other.test"])
        let chain = try certificates.chain(site.cert)
        let book = try CertificateBook(files: [.init(cert: chain, key: site.key), .init(cert: other.cert, key: other.key)],
                                       logger: Logger(label: "test"))
        let targets = book.stapleTargets
        #expect(targets.map(\.names) == [["localhost"], ["other.test"]])
        #expect(targets[0].issuer != nil && targets[1].issuer == nil)

        let now = Date()
        let staple = OCSPStaple(der: [0x30, 0x03, 0x0A, 0x01, 0x00], thisUpdate: now, nextUpdate: now.addingTimeInterval(600))
        book.noteStaple(staple, error: nil, forLeaf: targets[0].leaf, at: now)
        #expect(book.stapledResponse(serverName: "localhost", at: now) == staple.der)
        #expect(book.stapledResponse(serverName: nil, at: now) == staple.der)  // no SNI: the first certificate
        #expect(book.stapledResponse(serverName: "other.test", at: now) == nil)
        #expect(book.stapledResponse(serverName: "localhost", at: now.addingTimeInterval(601)) == nil)

        // A failed fetch keeps the valid response and records why; a revocation drops it.
        book.noteStaple(nil, error: "HTTP 500", forLeaf: targets[0].leaf, at: now)
        #expect(book.stapledResponse(serverName: "localhost", at: now) == staple.der)
        #expect(book.current[0].ocspError == "HTTP 500")

        // SIGHUP re-reads every file: the same certificate keeps its response.
        book.reloadChanged(force: true)
        #expect(book.stapledResponse(serverName: "localhost", at: now) == staple.der)
        // A renewed certificate in the same file starts without one.
        let renewed = try certificates.leaf("site", commonName: "localhost", names: ["localhost"])
        _ = try certificates.chain(renewed.cert)
        book.reloadChanged(force: true)
        #expect(book.stapledResponse(serverName: "localhost", at: now) == nil)
        #expect(book.stapleTargets[0].leaf != targets[0].leaf)

        book.noteStaple(staple, error: nil, forLeaf: book.stapleTargets[0].leaf, at: now)
        book.noteStaple(nil, error: "revoked", forLeaf: book.stapleTargets[0].leaf, dropping: true, at: now)
        #expect(book.stapledResponse(serverName: "localhost", at: now) == nil)
    }
}
