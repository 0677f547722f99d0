import Crypto
import Foundation

/// The ACME account's key (ECDSA P-256, ES256) and what RFC 8555 builds from it: the JWK, its
/// thumbprint (RFC 7638, for key authorizations) and flattened JWS requests (RFC 7515).
/// The private key never leaves this type except as `pemRepresentation`, for the store.
struct AccountKey: Sendable {
    let key: P256.Signing.PrivateKey

    init() { key = P256.Signing.PrivateKey() }
    init(pem: String) throws { key = try P256.Signing.PrivateKey(pemRepresentation: pem) }

    var pemRepresentation: String { key.pemRepresentation }

    /// `{"crv":"P-256","kty":"EC","x":…,"y":…}`: members in lexicographic order and no
    /// whitespace, which is also the thumbprint's required form.
    var jwk: String {
        let raw = key.publicKey.rawRepresentation  // x ‖ y, 32 bytes each
        return #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))"}"#
    }

    /// RFC 7638: base64url(SHA-256(jwk)).
    var thumbprint: String { Base64URL.encode(Data(SHA256.hash(data: Data(jwk.utf8)))) }

    /// `token.thumbprint` (RFC 8555 §8.1).
    func keyAuthorization(token: String) -> String { token + "." + thumbprint }

    /// How the request names its signer: the JWK (newAccount) or the account URL (`kid`).
    enum Signer: Sendable {
        case jwk
        case kid(String)
    }

    /// A flattened JWS JSON body. `payload` nil is a POST-as-GET (empty payload).
    func sign(payload: Data?, url: String, nonce: String, signer: Signer) throws -> Data {
        var header = #"{"alg":"ES256","#
        switch signer {
        case .jwk: header += #""jwk":\#(jwk),"#
        case .kid(let kid): header += #""kid":\#(JSONText.quote(kid)),"#
        }
        header += #""nonce":\#(JSONText.quote(nonce)),"url":\#(JSONText.quote(url))}"#
        let protected = Base64URL.encode(Data(header.utf8))
        let body = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try key.signature(for: Data((protected + "." + body).utf8))
        let text = #"{"protected":"\#(protected)","payload":"\#(body)","signature":"\#(Base64URL.encode(signature.rawRepresentation))"}"#
        return Data(text.utf8)
    }
}

enum Base64URL {
    static func encode<D: DataProtocol>(_ data: D) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

enum JSONText {
    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }
}
