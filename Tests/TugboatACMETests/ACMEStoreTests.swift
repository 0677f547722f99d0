import Foundation
import Testing
import TugboatStore

@Suite("ACME store: account and certificate rows (migration v6)")
struct ACMEStoreTests {
    @Test("the account and the certificate survive reopening the file, which only its owner can read")
    func roundTrip() async throws {
        let path = NSTemporaryDirectory() + "tugboat-acme-store-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let notBefore = Date(timeIntervalSince1970: 1_800_000_000)
        do {
            let store = try Store(path: path)
            #expect(try await store.acmeAccount(directory: "https://ca.test/dir") == nil)
            try await store.saveACMEAccount(.init(directory: "https://ca.test/dir", keyPEM: "ACCOUNT KEY", url: nil))
            try await store.saveACMEAccount(.init(directory: "https://ca.test/dir", keyPEM: "ACCOUNT KEY", url: "https://ca.test/acct/1"))
            try await store.saveACMECertificate(.init(domains: ["a.test", "b.test"], chainPEM: "CHAIN 1", keyPEM: "KEY 1", notBefore: notBefore,
                                                notAfter: notBefore.addingTimeInterval(100), obtainedAt: notBefore))
            try await store.saveACMECertificate(.init(domains: ["a.test", "b.test"], chainPEM: "CHAIN 2", keyPEM: "KEY 2", notBefore: notBefore,
                                                notAfter: notBefore.addingTimeInterval(200), obtainedAt: notBefore))
        }
        let reopened = try Store(path: path)
        #expect(try await reopened.acmeAccount(directory: "https://ca.test/dir")?.url == "https://ca.test/acct/1")
        let row = try #require(try await reopened.acmeCertificate(domains: ["a.test", "b.test"]))
        #expect(row.chainPEM == "CHAIN 2" && row.keyPEM == "KEY 2" && row.notAfter == notBefore.addingTimeInterval(200))
        #expect(try await reopened.acmeCertificate(domains: ["a.test"]) == nil)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "mode \(String(mode, radix: 8))")
    }
}
