import CProxyIO
import Foundation
import NIOSSL

/// A certificate's OCSP response (RFC 6960) as the stapler fetched and checked it: handshakes that
/// ask for the certificate's status get these bytes (OCSP stapling, RFC 6066 §8).
package struct OCSPStaple: Sendable, Equatable {
    /// The DER `OCSPResponse`, as the responder sent it.
    package var der: [UInt8]
    package var thisUpdate: Date
    /// When the response stops being valid (nil: the responder gave no limit).
    package var nextUpdate: Date?

    package init(der: [UInt8], thisUpdate: Date, nextUpdate: Date?) {
        self.der = der
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
    }

    /// Still valid at `date` (an expired response is never stapled: clients reject it).
    package func isValid(at date: Date) -> Bool { nextUpdate.map { date < $0 } ?? true }
}

extension CertificateBook {
    /// A certificate the stapler keeps a response for: its leaf and the leaf's issuer, DER.
    package struct StapleTarget: Sendable, Hashable {
        package var leaf: [UInt8]
        /// The next certificate of the chain (nil when the file holds the leaf alone: no request
        /// can be made without the issuer).
        package var issuer: [UInt8]?
        package var names: [String]
    }

    /// Every served certificate (placeholders aside), each once.
    package var stapleTargets: [StapleTarget] {
        var seen = Set<[UInt8]>()
        return current.compactMap { entry in
            guard !entry.isPlaceholder, let leaf = try? entry.chain.first?.toDERBytes(), seen.insert(leaf).inserted else { return nil }
            let issuer = entry.chain.count > 1 ? try? entry.chain[1].toDERBytes() : nil
            return StapleTarget(leaf: leaf, issuer: issuer, names: entry.names)
        }
    }

    /// Records a fetch for the certificate whose leaf is `leaf`: the response to staple from now on
    /// (nil: none — the old one is kept while it is valid unless `dropping`), and the error.
    package func noteStaple(_ staple: OCSPStaple?, error: String?, forLeaf leaf: [UInt8], dropping: Bool = false, at date: Date = Date()) {
        updateEntries { entry in
            guard (try? entry.chain.first?.toDERBytes()) == leaf else { return }
            if let staple { entry.ocsp = staple } else if dropping || entry.ocsp?.isValid(at: date) == false { entry.ocsp = nil }
            entry.ocspError = error
            entry.ocspAttempt = date
        }
    }

    /// The response to staple to a handshake for `serverName` (the certificate ``select(serverName:)``
    /// chose for it), while it is valid.
    func stapledResponse(serverName: String?, at date: Date = Date()) -> [UInt8]? {
        guard let staple = select(serverName: serverName)?.ocsp, staple.isValid(at: date) else { return nil }
        return staple.der
    }
}

/// Hooks OCSP stapling into a swift-nio-ssl server context, which has no API for it: BoringSSL's
/// status callback is set on the context's `SSL_CTX`, found by reflection. The callback runs in a
/// handshake whose client asked for the status, right after the certificate was chosen by server
/// name, and staples that certificate's response from the book.
enum OCSPStaplingHook {
    /// False when the context does not hold its `SSL_CTX` where this looks (a changed
    /// swift-nio-ssl): handshakes then go on without stapling.
    static func install(on context: NIOSSLContext, book: CertificateBook) -> Bool {
        guard let child = Mirror(reflecting: context).children.first(where: { $0.label == "sslContext" }),
              let sslContext = child.value as? OpaquePointer else { return false }
        // The book outlives the context (each listener's book lives as long as the process); the
        // reference is kept so that it cannot go first.
        let book = Unmanaged.passRetained(book).toOpaque()
        return tugboat_tls_set_status_callback(UnsafeMutableRawPointer(sslContext), stapleStatus, book) == 1
    }
}

/// BoringSSL's status callback: 0 (SSL_TLSEXT_ERR_OK) with a staple, 3 (SSL_TLSEXT_ERR_NOACK) without.
private func stapleStatus(ssl: UnsafeMutableRawPointer?, arg: UnsafeMutableRawPointer?) -> Int32 {
    let noAcknowledgement: Int32 = 3
    guard let ssl, let arg else { return noAcknowledgement }
    let book = Unmanaged<CertificateBook>.fromOpaque(arg).takeUnretainedValue()
    let serverName = tugboat_tls_server_name(ssl).map { String(cString: $0) }
    guard let der = book.stapledResponse(serverName: serverName) else { return noAcknowledgement }
    let stapled = der.withUnsafeBufferPointer { tugboat_tls_staple(ssl, $0.baseAddress, $0.count) }
    return stapled == 1 ? 0 : noAcknowledgement
}
