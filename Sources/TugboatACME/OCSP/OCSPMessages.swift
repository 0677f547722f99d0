import Crypto
import Foundation
import X509

/// The OCSP messages (RFC 6960) a stapler needs: the request for one certificate, and the check of
/// the responder's answer — status, the certificate it speaks of, its signature (by the issuer or a
/// responder the issuer delegated to) and its validity window. Pure; DER in, DER out.
enum OCSPMessages {
    /// What the responder is asked about: the certificate's serial number under its issuer's name
    /// and key (SHA-1 hashes, as every responder accepts).
    struct CertID: Equatable {
        var issuerNameHash: [UInt8]
        var issuerKeyHash: [UInt8]
        var serial: ArraySlice<UInt8>

        init(issuerNameHash: [UInt8], issuerKeyHash: [UInt8], serial: ArraySlice<UInt8>) {
            self.issuerNameHash = issuerNameHash
            self.issuerKeyHash = issuerKeyHash
            self.serial = serial
        }

        /// From the DER of the certificate and of its issuer.
        init(leaf: [UInt8], issuer: [UInt8]) throws(DERReader.Malformed) {
            let leafFields = try TBSFields(certificate: leaf[...])
            let issuerFields = try TBSFields(certificate: issuer[...])
            issuerNameHash = Array(Insecure.SHA1.hash(data: issuerFields.subject))
            issuerKeyHash = Array(Insecure.SHA1.hash(data: issuerFields.publicKeyBits))
            serial = leafFields.serial
        }

        var der: [UInt8] {
            let sha1: [UInt8] = [0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00]
            return DERReader.encode(DERReader.sequence, DERReader.encode(DERReader.sequence, sha1)
                + DERReader.encode(DERReader.octetString, issuerNameHash) + DERReader.encode(DERReader.octetString, issuerKeyHash)
                + DERReader.encode(DERReader.integer, Array(serial)))
        }
    }

    /// `OCSPRequest` for one certificate, unsigned and without a nonce (responders that serve
    /// pre-signed answers, as the large CAs do, ignore nonces).
    static func request(for certID: CertID) -> [UInt8] {
        let single = DERReader.encode(DERReader.sequence, certID.der)
        let requestList = DERReader.encode(DERReader.sequence, single)
        let tbsRequest = DERReader.encode(DERReader.sequence, requestList)
        return DERReader.encode(DERReader.sequence, tbsRequest)
    }

    /// Why a response cannot be stapled.
    enum Problem: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        /// The responder answered with an error status (RFC 6960 §4.2.1).
        case responderStatus(Int)
        case notForThisCertificate
        case badSignature
        case revoked(Date)
        case unknownCertificate
        /// Outside its validity window (thisUpdate in the future, nextUpdate past).
        case notCurrent(thisUpdate: Date, nextUpdate: Date?)

        var description: String {
            switch self {
            case .malformed(let what): "the responder's answer is not an OCSP response (\(what))"
            case .responderStatus(let status):
                "the responder answered \(Self.statusNames[status] ?? "status \(status)")"
            case .notForThisCertificate: "the response is about another certificate"
            case .badSignature: "the response is not signed by the certificate's issuer or a responder it delegated to"
            case .revoked(let date): "the certificate was revoked on \(date)"
            case .unknownCertificate: "the responder does not know the certificate"
            case .notCurrent(let thisUpdate, let nextUpdate):
                "the response is not current (this update \(thisUpdate), next update \(nextUpdate.map { "\($0)" } ?? "none"))"
            }
        }

        static let statusNames = [1: "malformedRequest", 2: "internalError", 3: "tryLater", 5: "sigRequired", 6: "unauthorized"]
    }

    /// What a stapleable response says: good, valid from `thisUpdate` until `nextUpdate`.
    struct Good: Equatable {
        var thisUpdate: Date
        var nextUpdate: Date?
    }

    /// Checks `response` for the certificate of `certID` issued by `issuer` (DER) at `now`.
    /// A clock up to five minutes behind the responder's is tolerated.
    static func check(response: [UInt8], certID: CertID, issuer: [UInt8], now: Date) throws(Problem) -> Good {
        do {
            return try checkDER(response: response, certID: certID, issuer: issuer, now: now)
        } catch let malformed as DERReader.Malformed {
            throw .malformed(malformed.description)
        } catch let problem as Problem {
            throw problem
        } catch {
            throw .malformed("\(error)")
        }
    }

    private static let basicResponseType: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]

    private static func checkDER(response: [UInt8], certID: CertID, issuer: [UInt8], now: Date) throws -> Good {
        var outer = DERReader(response[...])
        var top = try outer.next(DERReader.sequence, "OCSPResponse").children
        let status = try top.next(DERReader.enumerated, "responseStatus").content
        guard status.count == 1 else { throw Problem.malformed("responseStatus") }
        guard status.first == 0 else { throw Problem.responderStatus(Int(status.first!)) }
        var responseBytes = try top.next(DERReader.contextConstructed(0), "responseBytes").children
        var typed = try responseBytes.next(DERReader.sequence, "ResponseBytes").children
        guard Array(try typed.next(DERReader.objectIdentifier, "responseType").content) == basicResponseType else {
            throw Problem.malformed("not a basic OCSP response")
        }
        var basicReader = DERReader(try typed.next(DERReader.octetString, "response").content)
        var basic = try basicReader.next(DERReader.sequence, "BasicOCSPResponse").children
        let tbs = try basic.next(DERReader.sequence, "tbsResponseData")
        let algorithm = try basic.next(DERReader.sequence, "signatureAlgorithm")
        let signatureBits = try basic.next(DERReader.bitString, "signature").content
        guard signatureBits.first == 0 else { throw Problem.malformed("signature") }
        var delegates: [Certificate] = []
        if var certs = try basic.optional(DERReader.contextConstructed(0))?.children {
            var list = try certs.next(DERReader.sequence, "certs").children
            while !list.isAtEnd { delegates.append(try Certificate(derEncoded: Array(try list.next().encoded))) }
        }
        let issuerCertificate = try Certificate(derEncoded: issuer)
        var algorithmFields = algorithm.children
        guard let signatureAlgorithm = signatureAlgorithm(try algorithmFields.next(DERReader.objectIdentifier, "algorithm").content),
              signers(issuer: issuerCertificate, delegates: delegates, now: now).contains(where: {
                  $0.publicKey.isValidSignature(signatureBits.dropFirst(), for: tbs.encoded, signatureAlgorithm: signatureAlgorithm)
              })
        else { throw Problem.badSignature }

        var data = tbs.children
        _ = try data.optional(DERReader.contextConstructed(0))  // version
        _ = try data.next()  // responderID
        _ = try data.next(DERReader.generalizedTime, "producedAt")
        var responses = try data.next(DERReader.sequence, "responses").children
        while !responses.isAtEnd {
            var single = try responses.next(DERReader.sequence, "SingleResponse").children
            guard try matches(single.next(DERReader.sequence, "certID"), certID) else { continue }
            let certStatus = try single.next()
            let thisUpdate = try DERReader.generalizedTime(try single.next(DERReader.generalizedTime, "thisUpdate").content)
            var nextUpdate: Date?
            if var wrapped = try single.optional(DERReader.contextConstructed(0))?.children {
                nextUpdate = try DERReader.generalizedTime(try wrapped.next(DERReader.generalizedTime, "nextUpdate").content)
            }
            switch certStatus.tag {
            case DERReader.contextPrimitive(0): break
            case DERReader.contextConstructed(1):
                var revoked = certStatus.children
                throw Problem.revoked(try DERReader.generalizedTime(try revoked.next(DERReader.generalizedTime, "revocationTime").content))
            case DERReader.contextPrimitive(2): throw Problem.unknownCertificate
            default: throw Problem.malformed("certStatus")
            }
            let skew: TimeInterval = 300
            guard thisUpdate <= now.addingTimeInterval(skew), nextUpdate.map({ now < $0 }) ?? true else {
                throw Problem.notCurrent(thisUpdate: thisUpdate, nextUpdate: nextUpdate)
            }
            return Good(thisUpdate: thisUpdate, nextUpdate: nextUpdate)
        }
        throw Problem.notForThisCertificate
    }

    /// The responder's certificate ID matches ours (any hash algorithm object with SHA-1's OID).
    private static func matches(_ element: DERReader.Element, _ certID: CertID) throws -> Bool {
        var fields = element.children
        var algorithm = try fields.next(DERReader.sequence, "hashAlgorithm").children
        guard Array(try algorithm.next(DERReader.objectIdentifier, "hash").content) == [0x2B, 0x0E, 0x03, 0x02, 0x1A] else { return false }
        let nameHash = try fields.next(DERReader.octetString, "issuerNameHash").content
        let keyHash = try fields.next(DERReader.octetString, "issuerKeyHash").content
        let serial = try fields.next(DERReader.integer, "serialNumber").content
        return Array(nameHash) == certID.issuerNameHash && Array(keyHash) == certID.issuerKeyHash && Array(serial) == Array(certID.serial)
    }

    /// Who may sign: the issuer itself, or a certificate in the response that the issuer signed
    /// for OCSP signing (RFC 6960 §4.2.2.2) and that is valid now.
    private static func signers(issuer: Certificate, delegates: [Certificate], now: Date) -> [Certificate] {
        [issuer] + delegates.filter { delegate in
            delegate.issuer == issuer.subject && issuer.publicKey.isValidSignature(delegate.signature, for: delegate)
                && (delegate.notValidBefore...delegate.notValidAfter).contains(now)
                && (try? delegate.extensions.extendedKeyUsage)??.contains(.ocspSigning) == true
        }
    }

    private static func signatureAlgorithm(_ oid: ArraySlice<UInt8>) -> Certificate.SignatureAlgorithm? {
        switch Array(oid) {
        case [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]: .ecdsaWithSHA256
        case [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03]: .ecdsaWithSHA384
        case [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04]: .ecdsaWithSHA512
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05]: .sha1WithRSAEncryption
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]: .sha256WithRSAEncryption
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C]: .sha384WithRSAEncryption
        case [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D]: .sha512WithRSAEncryption
        case [0x2B, 0x65, 0x70]: .ed25519
        default: nil
        }
    }
}

/// The fields of a certificate's `tbsCertificate` a CertID is made of.
private struct TBSFields {
    var serial: ArraySlice<UInt8>
    /// The subject `Name`, encoded (what the issuer name hash covers).
    var subject: ArraySlice<UInt8>
    /// The `subjectPublicKey` BIT STRING's bits (what the issuer key hash covers).
    var publicKeyBits: ArraySlice<UInt8>

    init(certificate: ArraySlice<UInt8>) throws(DERReader.Malformed) {
        var outer = DERReader(certificate)
        var certificateFields = try outer.next(DERReader.sequence, "Certificate").children
        var tbs = try certificateFields.next(DERReader.sequence, "tbsCertificate").children
        _ = try tbs.optional(DERReader.contextConstructed(0))  // version
        serial = try tbs.next(DERReader.integer, "serialNumber").content
        _ = try tbs.next(DERReader.sequence, "signature")
        _ = try tbs.next(DERReader.sequence, "issuer")
        _ = try tbs.next(DERReader.sequence, "validity")
        subject = try tbs.next(DERReader.sequence, "subject").encoded
        var spki = try tbs.next(DERReader.sequence, "subjectPublicKeyInfo").children
        _ = try spki.next(DERReader.sequence, "algorithm")
        let bits = try spki.next(DERReader.bitString, "subjectPublicKey").content
        guard bits.first == 0 else { throw DERReader.Malformed(description: "subjectPublicKey") }
        publicKeyBits = bits.dropFirst()
    }
}
