/// The name a TLS client sends in SNI and checks in the server's certificate.
package enum TLSServerName {
    /// `host`, unless it is an IP address: that is not sent (SNI carries names only) and is checked
    /// against the certificate's IP addresses instead.
    package static func forHost(_ host: String) -> String? {
        let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        return isAddress ? nil : host
    }
}
