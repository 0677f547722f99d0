import Foundation
import GRDB

// ACME: the account key per directory and the certificate (with its key) per set of domains.
// Both keys are secrets: they are only ever read back to be used, never shown.
extension Store {
    package struct ACMEAccountRow: Sendable, Equatable {
        package var directory: String
        package var keyPEM: String
        /// The account's URL (`kid`), once registered.
        package var url: String?

        package init(directory: String, keyPEM: String, url: String?) {
            self.directory = directory
            self.keyPEM = keyPEM
            self.url = url
        }
    }

    package struct ACMECertificateRow: Sendable, Equatable {
        package var domains: [String]
        package var chainPEM: String
        package var keyPEM: String
        package var notBefore: Date
        package var notAfter: Date
        package var obtainedAt: Date

        package init(domains: [String], chainPEM: String, keyPEM: String, notBefore: Date, notAfter: Date, obtainedAt: Date) {
            self.domains = domains
            self.chainPEM = chainPEM
            self.keyPEM = keyPEM
            self.notBefore = notBefore
            self.notAfter = notAfter
            self.obtainedAt = obtainedAt
        }
    }

    package func acmeAccount(directory: String) async throws -> ACMEAccountRow? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM acmeAccount WHERE directory = ?", arguments: [directory]).map {
                ACMEAccountRow(directory: $0["directory"], keyPEM: $0["keyPEM"], url: $0["url"])
            }
        }
    }

    package func saveACMEAccount(_ row: ACMEAccountRow) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO acmeAccount (directory, keyPEM, url, createdAt) VALUES (?, ?, ?, ?)",
                           arguments: [row.directory, row.keyPEM, row.url, Date()])
        }
    }

    package func acmeCertificate(domains: [String]) async throws -> ACMECertificateRow? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM acmeCertificate WHERE domains = ?", arguments: [domains.joined(separator: ",")]).map {
                ACMECertificateRow(domains: String($0["domains"] as String).split(separator: ",").map(String.init), chainPEM: $0["chainPEM"],
                                   keyPEM: $0["keyPEM"], notBefore: $0["notBefore"], notAfter: $0["notAfter"], obtainedAt: $0["obtainedAt"])
            }
        }
    }

    /// Replaces the certificate stored for the same domains.
    package func saveACMECertificate(_ row: ACMECertificateRow) async throws {
        try await database.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO acmeCertificate (domains, chainPEM, keyPEM, notBefore, notAfter, obtainedAt)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [row.domains.joined(separator: ","), row.chainPEM, row.keyPEM, row.notBefore, row.notAfter, row.obtainedAt])
        }
    }
}
