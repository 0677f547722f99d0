import Foundation
import TugboatCluster
import TugboatStore

/// What `tls.acme` shares between nodes with `state: redis://`: the certificate and the account
/// (so the leader orders once for every node, and a new leader goes on with the same account),
/// the HTTP-01 answers (the CA may reach any node behind a shared address) and a renewal asked
/// for on a node that is not the leader. Kept in Redis under `tugboat:<pool>:acme:…`; each value
/// is JSON, the private keys in clear (the README says so: Redis' password guards them).
package struct ACMESharedState: Sendable {
    /// How long a published challenge answer lives (an authorization is decided well within it).
    static let challengeTTL = 600

    let node: ClusterNode

    package init(node: ClusterNode) {
        self.node = node
    }

    /// Only the leader orders; the others install what it stores.
    var mayOrder: Bool { node.isLeader }

    func certificate(domains: [String]) async throws -> Store.ACMECertificateRow? {
        guard let json = try await node.acmeValue("certificate:\(domains.joined(separator: ","))") else { return nil }
        return try SharedCertificate.decode(json).row(domains: domains)
    }

    func save(_ row: Store.ACMECertificateRow) async throws {
        try await node.setACMEValue("certificate:\(row.domains.joined(separator: ","))", SharedCertificate(row).encoded())
    }

    func account(directory: String) async throws -> Store.ACMEAccountRow? {
        guard let json = try await node.acmeValue("account:\(directory)") else { return nil }
        let account = try JSONDecoder().decode(SharedAccount.self, from: Data(json.utf8))
        return .init(directory: directory, keyPEM: account.key_pem, url: account.url)
    }

    func save(_ row: Store.ACMEAccountRow) async throws {
        let json = try JSONEncoder().encode(SharedAccount(key_pem: row.keyPEM, url: row.url))
        try await node.setACMEValue("account:\(row.directory)", String(decoding: json, as: UTF8.self))
    }

    func publishChallenge(token: String, keyAuthorization: String) async throws {
        try await node.setACMEValue("challenge:\(token)", keyAuthorization, ttlSeconds: Self.challengeTTL)
    }

    func withdrawChallenge(token: String) async {
        _ = try? await node.removeACMEValue("challenge:\(token)")
    }

    /// The answer another node published for `token`, if any (the redirect listener asks on a miss).
    func challenge(token: String) async -> String? {
        try? await node.acmeValue("challenge:\(token)")
    }

    func requestRenewal() async throws {
        try await node.setACMEValue("renew", "1", ttlSeconds: Self.challengeTTL)
    }

    /// True once for each renewal asked for elsewhere (the leader takes it).
    func takeRenewalRequest() async -> Bool {
        (try? await node.removeACMEValue("renew")) ?? false
    }
}

/// The stored certificate's JSON (`tugboat:<pool>:acme:certificate:<domains>`).
struct SharedCertificate: Codable, Equatable {
    var chain_pem: String
    var key_pem: String
    var not_before: Date
    var not_after: Date
    var obtained_at: Date

    init(_ row: Store.ACMECertificateRow) {
        chain_pem = row.chainPEM
        key_pem = row.keyPEM
        not_before = row.notBefore
        not_after = row.notAfter
        obtained_at = row.obtainedAt
    }

    func row(domains: [String]) -> Store.ACMECertificateRow {
        .init(domains: domains, chainPEM: chain_pem, keyPEM: key_pem, notBefore: not_before, notAfter: not_after, obtainedAt: obtained_at)
    }

    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func decode(_ json: String) throws -> SharedCertificate {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SharedCertificate.self, from: Data(json.utf8))
    }
}

/// The stored account's JSON (`tugboat:<pool>:acme:account:<directory>`).
struct SharedAccount: Codable {
    var key_pem: String
    var url: String?
}
