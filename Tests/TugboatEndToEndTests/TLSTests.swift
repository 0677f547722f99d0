import TestSupport
import Foundation
import Testing

/// HTTPS at the front: real certificates from `openssl`, the real `openssl s_client` as the client.
@Suite("HTTPS at the front", .serialized)
struct TLSTests {
    let get = "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

    func tugboat(_ certificates: [(cert: String, key: String)], backend: DemoBackend, extraTLS: String = "",
                 listen: String = "127.0.0.1:0") throws -> TugboatUnderTest {
        let list = certificates.map { "    - { cert: \($0.cert), key: \($0.key) }" }.joined(separator: "\n")
        return try TugboatUnderTest(backends: [backend.address], extraTop: "tls:\n  certificates:\n\(list)\n\(extraTLS)", listen: listen)
    }

    @Test("a request over TLS reaches the backend with X-Forwarded-Proto: https; the certificate is chosen by SNI")
    func servesOverTLS() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost", "127.0.0.1"])
        let other = try certificates.leaf("other", commonName: "other.test", names: ["other.test", "*.other.test"])
        let backend = try DemoBackend()
        let tugboat = try tugboat([site, other], backend: backend)
        try tugboat.waitHealthy([backend.address])

        let answer = try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get)
        #expect(answer.contains("Verify return code: 0 (ok)"), "\(answer)")
        #expect(answer.contains("HTTP/1.1 200"), "\(answer)")
        #expect(answer.contains("\"x-forwarded-proto\":\"https\""), "\(answer)")
        #expect(answer.contains("Protocol  : TLSv1.3") || answer.contains("TLSv1.3"), "\(answer)")

        let byName = try TestCertificates.client(port: tugboat.port, serverName: "www.other.test", ca: certificates.caPath, request: get)
        #expect(byName.contains("subject=CN = other.test"), "\(byName)")
        #expect(byName.contains("HTTP/1.1 200"))
        let alpn = try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get,
                                               extra: ["-alpn", "http/1.1"])
        #expect(alpn.contains("ALPN protocol: http/1.1"), "\(alpn)")
        // TLS 1.1 is refused.
        let old = try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get,
                                              extra: ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(!old.contains("HTTP/1.1 200"), "\(old)")
        // Plain HTTP to the TLS port gets no HTTP answer, and the listener keeps serving.
        let plain = try? TestHTTPClient(port: tugboat.port).request("GET", "/echo", headers: ["Connection": "close"])
        #expect(plain?.status != 200)
        #expect(try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get).contains("HTTP/1.1 200"))

        let listed = try tugboat.admin("/api/certificates") as? [[String: Any]] ?? []
        #expect(listed.map { $0["names"] as? [String] ?? [] } == [["localhost", "127.0.0.1"], ["other.test", "*.other.test"]])
        #expect(listed.first?["issuer"] as? String == "CN=Tugboat Test CA, O=Tugboat Test" || listed.first?["issuer"] as? String == "O=Tugboat Test, CN=Tugboat Test CA")
        #expect(listed.first?["source"] as? String == "file")
        let metrics = String(decoding: try TestHTTPClient(port: tugboat.adminPort).request("GET", "/metrics", headers: ["Connection": "close"]).body, as: UTF8.self)
        #expect(metrics.contains("tugboat_certificate_expiry_timestamp_seconds{name=\"localhost\"}"))
    }

    @Test("a certificate renewed on disk reaches new connections without a restart; a bad file keeps the old one")
    func reload() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"])
        let backend = try DemoBackend()
        let tugboat = try tugboat([site], backend: backend)
        try tugboat.waitHealthy([backend.address])
        let open = try TestHTTPClient(port: tugboat.adminPort)  // an unrelated open connection stays up
        _ = open

        let renewed = try certificates.leaf("renewed", commonName: "localhost-renewed", names: ["localhost"])
        try FileManager.default.removeItem(atPath: site.cert)
        try FileManager.default.copyItem(atPath: renewed.cert, toPath: site.cert)
        try FileManager.default.removeItem(atPath: site.key)
        try FileManager.default.copyItem(atPath: renewed.key, toPath: site.key)
        try waitUntilBlocking(timeout: .seconds(20), "the renewed certificate served") {
            try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get)
                .contains("subject=CN = localhost-renewed")
        }
        try "not a certificate".write(toFile: site.cert, atomically: false, encoding: .utf8)
        try waitUntilBlocking(timeout: .seconds(20), "the reload error shown") {
            let listed = try tugboat.admin("/api/certificates") as? [[String: Any]] ?? []
            return (listed.first?["last_renewal_error"] as? String)?.contains("holds no PEM certificate") == true
        }
        let still = try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get)
        #expect(still.contains("subject=CN = localhost-renewed") && still.contains("HTTP/1.1 200"), "\(still)")
    }

    @Test("tls.redirect answers 308 to https:// with the same path; no Host is a 400")
    func redirect() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"])
        let backend = try DemoBackend()
        let (httpsPort, httpPort) = (try freePort(), try freePort())
        let tugboat = try tugboat([site], backend: backend, extraTLS: "  redirect: 127.0.0.1:\(httpPort)\n", listen: "127.0.0.1:\(httpsPort)")
        _ = try tugboat.child.waitForLine { $0.contains("redirect listening") }
        let moved = try TestHTTPClient(port: httpPort).request("GET", "/a/b?c=1", headers: ["Connection": "close", "Host": "test.local"])
        #expect(moved.status == 308)
        #expect(moved.header("location") == "https://test.local:\(httpsPort)/a/b?c=1")
        for host in ["evil.com/x?", "a b", ""] {
            let fd = try #require(connectLoopback(port: httpPort))
            defer { close(fd) }
            #expect(FrontDoor.sendAll(fd, "GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n"))
            let answer = String(decoding: FrontDoor.readUntilClose(fd, within: 5).bytes, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 400") && !answer.lowercased().contains("location:"), "Host '\(host)': \(answer)")
        }
    }

    @Test("check refuses bad certificate files with FILE:LINE and the key", arguments: ["wrong-key", "garbage", "world-readable"])
    func badFiles(_ mistake: String) throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"])
        let other = try certificates.leaf("other", commonName: "other", names: ["other"])
        var (cert, key) = site
        var expected = ""
        switch mistake {
        case "wrong-key":
            key = other.key
            expected = "'tls.certificates[0].key': \(other.key) is not the private key of \(site.cert)"
        case "garbage":
            try "garbage".write(toFile: cert, atomically: true, encoding: .utf8)
            expected = "'tls.certificates[0].cert': \(cert) holds no PEM certificate"
        default:
            chmod(key, 0o644)
            expected = "the private key \(key) is readable by every user (mode 644); chmod 600 it"
        }
        let path = certificates.directory + "/t.yaml"
        try "listen: 127.0.0.1:0\ntls:\n  certificates:\n    - { cert: \(cert), key: \(key) }\npool:\n  backends: [127.0.0.1:9]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try ChildProcess(arguments: ["check", "--config", path])
        let output = try check.waitForLine(timeout: 10) { $0.contains(path) }
        #expect(check.waitForExit() == 1)
        #expect(output.contains("\(path):4: ") && output.contains(expected), "\(output)")
    }

    @Test("a certificate that expires within the rule's threshold is an incident")
    func expiryRule() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"], days: 2)
        let backend = try DemoBackend()
        let alerts = "alerts:\n  startup-grace: 0s\n  group: { wait: 0s }\n  channels: { log: { log: {} } }\n  rules:\n"
            + "    - { name: cert, condition: certificate-expires-within, threshold: 14d, channels: [log] }\n"
        let tugboat = try TugboatUnderTest(backends: [backend.address],
                                           extraTop: "tls:\n  certificates:\n    - { cert: \(site.cert), key: \(site.key) }\n" + alerts)
        try waitUntilBlocking("the incident") { try tugboat.incidents().contains { $0["rule"] as? String == "cert" && $0["state"] as? String == "firing" } }
        let incident = try #require(try tugboat.incidents().first)
        #expect(incident["target"] as? String == "localhost")
        #expect((incident["summary"] as? String)?.contains("certificate localhost expires in") == true)
        _ = try tugboat.child.waitForLine { $0.contains("FIRING") && $0.contains("cert") }
    }

    @Test("pool.tls: requests and health checks reach a backend over TLS; a backend whose certificate is not trusted stays unhealthy")
    func backendsOverTLS() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost", "127.0.0.1"])
        let app = try DemoBackend()
        // The HTTPS backend is another Tugboat terminating TLS in front of the demo app.
        let inner = try tugboat([site], backend: app)
        try inner.waitHealthy([app.address])
        let innerAddress = "127.0.0.1:\(inner.port)"
        let outer = try TugboatUnderTest(backends: [innerAddress],
                                         extraPool: "  tls: { ca: \(certificates.caPath), sni: localhost }\n")
        try outer.waitHealthy([innerAddress])
        let answer = try TestHTTPClient(port: outer.port).request("GET", "/echo", headers: ["Connection": "close"])
        #expect(answer.status == 200)
        // The inner Tugboat saw a TLS client: it tells the app so.
        #expect(answer.bodyText.contains("\"x-forwarded-proto\":\"https\""), "\(answer.bodyText)")

        // Without the test CA (the system's roots do not know it), the handshake fails: unhealthy.
        let untrusting = try TugboatUnderTest(backends: [innerAddress], extraPool: "  tls: { sni: localhost }\n")
        try waitUntilBlocking("the backend unhealthy") { try untrusting.state(of: innerAddress) == "unhealthy" }
        #expect(try TestHTTPClient(port: untrusting.port).request("GET", "/echo", headers: ["Connection": "close"]).status == 503)
        // verify: false accepts it (for a backend with a self-signed certificate on a private network).
        let lax = try TugboatUnderTest(backends: [innerAddress], extraPool: "  tls: { verify: false }\n")
        try lax.waitHealthy([innerAddress])
    }

    @Test("an https:// monitor's certificate that expires within the threshold is an incident")
    func monitorCertificateExpiry() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"], days: 2)
        let app = try DemoBackend()
        let front = try tugboat([site], backend: app)
        let watcher = try TugboatUnderTest(backends: [], extraTop: """
            monitors:
              - { name: shop, url: "https://localhost:\(front.port)/health", interval: 500ms, timeout: 1s }
            alerts:
              startup-grace: 0s
              channels: { log: { log: {} } }
              rules:
                - { name: cert, condition: certificate-expires-within, threshold: 14d, channels: [log] }
            """)
        try waitUntilBlocking("the incident") { try watcher.incidents().contains { $0["rule"] as? String == "cert" && $0["target"] as? String == "localhost" } }
        #expect((try watcher.incidents().first?["summary"] as? String)?.contains("certificate localhost expires in") == true)
    }

    @Test("SIGHUP re-reads the certificates even when their files look unchanged; the process keeps running")
    func reloadOnHangup() throws {
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost"])
        // Whole-second modification times, so that they can be put back exactly.
        let stamp = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 100).rounded(.down))
        for path in [site.cert, site.key] { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: path) }
        let backend = try DemoBackend()
        let tugboat = try tugboat([site], backend: backend)
        try tugboat.waitHealthy([backend.address])
        let renewed = try certificates.leaf("renewed", commonName: "localhost-hup", names: ["localhost"])
        for (from, to) in [(renewed.cert, site.cert), (renewed.key, site.key)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        // The same modification times as before: only SIGHUP can tell the files changed.
        for path in [site.cert, site.key] { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: path) }
        #expect(FrontDoor.holds(for: 6) {
            (try? TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get)
                .contains("subject=CN = localhost")) == true
                && (try? TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get)
                    .contains("localhost-hup")) == false
        })
        tugboat.child.signal(SIGHUP)
        try waitUntilBlocking(timeout: .seconds(10), "the certificate re-read") {
            try TestCertificates.client(port: tugboat.port, serverName: "localhost", ca: certificates.caPath, request: get)
                .contains("subject=CN = localhost-hup")
        }
        #expect(try tugboat.state(of: backend.address) == "healthy")
    }
}
