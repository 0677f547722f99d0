import Crypto
import Foundation
import X509

/// What Tugboat makes with swift-certificates: the CSR sent at finalization, the self-signed
/// placeholder served until the first ACME certificate arrives, and the validity read back from
/// an issued chain.
enum CertificateRequests {
    /// A fresh certificate key (ECDSA P-256) and, PEM, its private key.
    static func newKey() -> (key: P256.Signing.PrivateKey, pem: String) {
        let key = P256.Signing.PrivateKey()
        return (key, key.pemRepresentation)
    }

    /// DER of a CSR for `domains` (subject CN = the first, every one in subjectAltName).
    static func csr(domains: [String], key: P256.Signing.PrivateKey) throws -> [UInt8] {
        let extensions = try Certificate.Extensions { SubjectAlternativeNames(domains.map { .dnsName($0) }) }
        let attributes = try CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))])
        let request = try CertificateSigningRequest(version: .v1, subject: try DistinguishedName { CommonName(domains[0]) },
                                                    privateKey: Certificate.PrivateKey(key), attributes: attributes,
                                                    signatureAlgorithm: .ecdsaWithSHA256)
        return try request.serializeAsPEM().derBytes
    }

    /// A self-signed certificate for `domains` (PEM chain and key): what handshakes get before the
    /// first ACME certificate. No client trusts it; it only keeps the listener up.
    static func placeholder(domains: [String], now: Date = Date()) throws -> (chainPEM: String, keyPEM: String) {
        let (key, keyPEM) = newKey()
        let name = try DistinguishedName {
            OrganizationName("Tugboat")
            CommonName("Tugboat placeholder (no ACME certificate yet)")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(7 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { SubjectAlternativeNames(domains.map { .dnsName($0) }) },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, keyPEM)
    }

    /// The certificate a TLS-ALPN-01 validation is answered with (RFC 8737 §3): self-signed for
    /// `domain`, carrying the critical `acmeIdentifier` extension with the SHA-256 digest of the
    /// key authorization. PEM certificate and key.
    static func validationCertificate(domain: String, keyAuthorization: String, now: Date = Date()) throws -> (certificatePEM: String, keyPEM: String) {
        let (key, keyPEM) = newKey()
        let name = try DistinguishedName { CommonName(domain) }
        let digest = Array(SHA256.hash(data: Data(keyAuthorization.utf8)))
        var extensions = try Certificate.Extensions { SubjectAlternativeNames([.dnsName(domain)]) }
        // id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31): Authorization ::= OCTET STRING (SIZE (32)).
        try extensions.append(Certificate.Extension(oid: [1, 3, 6, 1, 5, 5, 7, 1, 31], critical: true, value: ArraySlice([0x04, 0x20] + digest)))
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, keyPEM)
    }

    /// The leaf's validity and serial number (hex), from a PEM chain.
    static func leafFacts(chainPEM: String) throws -> (notBefore: Date, notAfter: Date, serial: String) {
        guard let start = chainPEM.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = chainPEM.range(of: "-----END CERTIFICATE-----", range: start.upperBound..<chainPEM.endIndex) else {
            throw ACMEError.malformed("certificate: not a PEM chain")
        }
        let leaf = try Certificate(pemEncoded: String(chainPEM[start.lowerBound..<end.upperBound]))
        return (leaf.notValidBefore, leaf.notValidAfter, leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined())
    }
}
