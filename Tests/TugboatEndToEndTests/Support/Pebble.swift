import TestSupport
import Foundation

/// A real ACME server on loopback: Let's Encrypt's `pebble` (Debian package), with
/// `pebble-challtestsrv` as its DNS server answering 127.0.0.1 for every name, so that its
/// validation authority dials Tugboat's redirect listener on `httpPort` for HTTP-01.
/// Pebble's own HTTPS certificate is made by `TestCertificates` (trust: `certificates.caPath`).
final class Pebble {
    let certificates: TestCertificates
    let port: Int
    let managementPort: Int
    let server: ChildProcess
    let dns: ChildProcess
    var directory: String { "https://127.0.0.1:\(port)/dir" }

    /// `httpPort`: where pebble validates HTTP-01 challenges (Tugboat's `tls.redirect` port).
    /// Pebble rejects a share of good nonces by default (`PEBBLE_WFE_NONCEREJECT` unset), so the
    /// client's badNonce retry runs. Valid authorizations are never reused (`PEBBLE_AUTHZREUSE=0`;
    /// by default half are): every order is validated over HTTP-01 again.
    /// `tlsPort`: where it validates TLS-ALPN-01 challenges (Tugboat's public listener).
    init(httpPort: Int, tlsPort: Int? = nil, certificates: TestCertificates) throws {
        self.certificates = certificates
        let own = try certificates.leaf("pebble", commonName: "pebble", names: ["127.0.0.1", "localhost"])
        let (port, managementPort, dnsPort, dnsManagement) = (try freePort(), try freePort(), try freePort(), try freePort())
        self.port = port
        self.managementPort = managementPort
        dns = try ChildProcess(executable: "/usr/bin/pebble-challtestsrv", arguments: [
            "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", "127.0.0.1:\(dnsManagement)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
        ])
        _ = try dns.waitForLine { $0.contains("Starting challenge servers") || $0.contains("DNS") }
        let config = certificates.directory + "/pebble-\(port).json"
        try """
        {"pebble": {"listenAddress": "127.0.0.1:\(port)", "managementListenAddress": "127.0.0.1:\(managementPort)",
          "certificate": "\(own.cert)", "privateKey": "\(own.key)", "httpPort": \(httpPort), "tlsPort": \(try tlsPort ?? freePort()),
          "ocspResponderURL": "", "externalAccountBindingRequired": false}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        server = try ChildProcess(executable: "/usr/bin/pebble", arguments: ["-config", config, "-dnsserver", "127.0.0.1:\(dnsPort)"],
                                  environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0"])
        _ = try server.waitForLine { $0.contains("Listening on") }
    }

    /// Pebble's issuing root (made at its start), written to a file: what a client must trust.
    func root() throws -> String {
        let path = certificates.directory + "/pebble-root-\(port).pem"
        let curl = try ChildProcess(executable: "/usr/bin/curl", arguments: [
            "-sf", "--max-time", "10", "--cacert", certificates.caPath, "-o", path, "https://127.0.0.1:\(managementPort)/roots/0",
        ])
        guard curl.waitForExit() == 0 else { throw TestFailure("cannot fetch pebble's root: \(curl.lines)") }
        return path
    }

    /// How many certificates pebble issued (its log; a request line would count a POST that was
    /// refused for a bad nonce and sent again).
    var issued: Int { server.lines.filter { $0.contains("Issued certificate serial") }.count }

    func stop() {
        server.stop()
        dns.stop()
    }

    deinit { stop() }
}
