import Foundation
import TestSupport
import Testing

/// `admin.tls`: the admin API and dashboard over HTTPS, with certificates made by `openssl` at test
/// time; curl and `openssl s_client` as the clients.
@Suite("HTTPS on the admin listener", .serialized)
struct AdminTLSTests {
    let token = "admin-tls-s3cret-token"

    /// curl to the admin listener as `localhost` (pinned to 127.0.0.1), trusting only the test CA:
    /// the HTTP status (000 when there was no HTTP answer), the headers and the body.
    func curl(_ port: Int, _ path: String, ca: String, arguments: [String] = []) throws -> (status: String, output: String) {
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        let run = try Shell.run("curl -sS -i --max-time 10 --cacert \(ca) --resolve localhost:\(port):127.0.0.1 \(quoted) "
            + "-w '\\n%{http_code}' https://localhost:\(port)\(path)")
        let status = run.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        return (status, run.output)
    }

    /// The subject `openssl s_client` saw on a new connection to the admin port.
    func servedSubject(_ port: Int, ca: String) throws -> String {
        let answer = try TestCertificates.client(port: port, serverName: "localhost", ca: ca,
                                                 request: "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return answer.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? answer
    }

    @Test("the admin API answers over HTTPS with the configured certificate; the token is still required; plain HTTP gets no answer")
    func servesOverHTTPS() throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "admin.localhost", names: ["localhost", "127.0.0.1"])
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], adminToken: token, adminTLS: admin)
        let line = try tugboat.child.waitForLine { $0.contains("admin listening") }
        #expect(line.contains("admin.url=https://127.0.0.1:\(tugboat.adminPort)"), "\(line)")

        try waitUntilBlocking("the backend healthy over HTTPS") {
            try curl(tugboat.adminPort, "/api/pool", ca: certificates.caPath, arguments: ["-H", "Authorization: Bearer \(token)"])
                .output.contains("\"state\":\"healthy\"")
        }
        #expect(try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin.localhost")
        let verified = try TestCertificates.client(port: tugboat.adminPort, serverName: "localhost", ca: certificates.caPath,
                                                   request: "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(verified.contains("Verify return code: 0 (ok)") && verified.contains("HTTP/1.1 200"), "\(verified)")

        // The token: none or a wrong one is a 401; /healthz needs none.
        #expect(try curl(tugboat.adminPort, "/api/pool", ca: certificates.caPath).status == "401")
        #expect(try curl(tugboat.adminPort, "/api/pool", ca: certificates.caPath, arguments: ["-H", "Authorization: Bearer wrong"]).status == "401")
        #expect(try curl(tugboat.adminPort, "/healthz", ca: certificates.caPath).status == "200")
        // TLS 1.1 is refused, as on the public listener.
        let old = try TestCertificates.client(port: tugboat.adminPort, serverName: "localhost", ca: certificates.caPath,
                                              request: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", extra: ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(!old.contains("HTTP/1.1 200"), "\(old)")

        // Plain HTTP to the TLS port: no HTTP answer, the connection closed; the listener keeps serving.
        let plain = try Shell.run("curl -sS -o /dev/null --max-time 5 -w '%{http_code}' http://127.0.0.1:\(tugboat.adminPort)/healthz")
        #expect(plain.status != 0 && plain.output.hasSuffix("000"), "\(plain.output)")
        #expect(try curl(tugboat.adminPort, "/healthz", ca: certificates.caPath).status == "200")
        // A client that does not trust the certificate gives up.
        let untrusting = try Shell.run("curl -sS -o /dev/null --max-time 5 --resolve localhost:\(tugboat.adminPort):127.0.0.1 https://localhost:\(tugboat.adminPort)/healthz")
        #expect(untrusting.status != 0, "\(untrusting.output)")

        // `tugboat healthcheck` speaks TLS to it.
        let check = try ChildProcess(arguments: ["healthcheck", "--url", "https://127.0.0.1:\(tugboat.adminPort)/healthz"])
        #expect(check.waitForExit() == 0, "\(check.text)")
        // An http:// URL (the image's HEALTHCHECK default) gets no HTTP answer and is tried over TLS.
        let plainURL = try ChildProcess(arguments: ["healthcheck", "--url", "http://127.0.0.1:\(tugboat.adminPort)/healthz"])
        #expect(plainURL.waitForExit() == 0, "\(plainURL.text)")
        // Nothing listening: unhealthy both ways.
        let nobody = try ChildProcess(arguments: ["healthcheck", "--url", "http://127.0.0.1:9/healthz"])
        #expect(nobody.waitForExit() == 1, "\(nobody.text)")
        // The token appears nowhere in the log.
        #expect(!tugboat.child.text.contains(token))
    }

    @Test("the admin listener's certificate is listed and measured beside the public ones, and paged before it lapses")
    func listedAndPaged() throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "admin.localhost", names: ["localhost"], days: 2)
        let backend = try DemoBackend()
        let alerts = "alerts:\n  startup-grace: 0s\n  group: { wait: 0s }\n  channels: { log: { log: {} } }\n  rules:\n"
            + "    - { name: cert, condition: certificate-expires-within, threshold: 14d, channels: [log] }\n"
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: alerts, adminTLS: admin)
        let listed = try curl(tugboat.adminPort, "/api/certificates", ca: certificates.caPath)
        #expect(listed.status == "200")
        let body = try #require(listed.output.split(whereSeparator: \.isNewline).first { $0.hasPrefix("[") }, "\(listed.output)")
        let entries = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] ?? []
        #expect(entries.count == 1)
        #expect(entries.first?["names"] as? [String] == ["localhost"])
        #expect(entries.first?["listener"] as? String == "admin")
        let metrics = try curl(tugboat.adminPort, "/metrics", ca: certificates.caPath).output
        #expect(metrics.contains("tugboat_certificate_expiry_timestamp_seconds{name=\"localhost\",listener=\"admin\"}"), "\(metrics)")
        // Two days left, a 14-day rule: an incident whose target says whose certificate it is.
        _ = try tugboat.child.waitForLine { $0.contains("FIRING") && $0.contains("localhost (admin listener)") }
    }

    @Test("the dashboard works over HTTPS: its page, the login's Secure cookie, the data with the cookie")
    func dashboard() throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "localhost", names: ["localhost"])
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], adminToken: token, adminTLS: admin)
        let page = try curl(tugboat.adminPort, "/", ca: certificates.caPath)
        #expect(page.status == "200" && page.output.contains("<html"), "\(page.output.prefix(300))")
        let login = try curl(tugboat.adminPort, "/api/session", ca: certificates.caPath,
                             arguments: ["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"token\":\"\(token)\"}"])
        #expect(login.status == "204", "\(login.output)")
        let cookieLine = try #require(login.output.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("set-cookie:") }, "\(login.output)")
        #expect(cookieLine.contains("HttpOnly") && cookieLine.contains("; Secure"), "\(cookieLine)")
        let cookie = try #require(cookieLine.dropFirst("set-cookie:".count).split(separator: ";").first).trimmingCharacters(in: .whitespaces)
        let pool = try curl(tugboat.adminPort, "/api/pool", ca: certificates.caPath, arguments: ["-H", "Cookie: \(cookie)"])
        #expect(pool.status == "200" && pool.output.contains("\"backends\""), "\(pool.output)")
    }

    @Test("a certificate replaced on disk reaches new connections; a bad file at reload keeps the old one and logs why")
    func reload() throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "admin-first", names: ["localhost"])
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], adminToken: token, adminTLS: admin)
        #expect(try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-first")

        let renewed = try certificates.leaf("renewed", commonName: "admin-renewed", names: ["localhost"])
        for (from, to) in [(renewed.cert, admin.cert), (renewed.key, admin.key)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        try waitUntilBlocking(timeout: .seconds(20), "the renewed certificate served") {
            try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-renewed"
        }
        #expect(try curl(tugboat.adminPort, "/api/pool", ca: certificates.caPath, arguments: ["-H", "Authorization: Bearer \(token)"]).status == "200")

        try "not a certificate".write(toFile: admin.cert, atomically: false, encoding: .utf8)
        // (A look between the two copies above may have logged a key that did not match: that is not this line.)
        let why = try tugboat.child.waitForLine(timeout: 20) { $0.contains("certificate not reloaded") && $0.contains("holds no PEM certificate") }
        #expect(why.contains("listener=admin") && why.contains("'admin.tls.certificates[0].cert': \(admin.cert)"), "\(why)")
        #expect(try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-renewed")
        #expect(try curl(tugboat.adminPort, "/healthz", ca: certificates.caPath).status == "200")
    }

    @Test("SIGHUP re-reads the admin certificates even when their files look unchanged")
    func reloadOnHangup() throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "admin-first", names: ["localhost"])
        // Whole-second modification times, so that they can be put back exactly.
        let stamp = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 100).rounded(.down))
        for path in [admin.cert, admin.key] { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: path) }
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], adminTLS: admin)
        let renewed = try certificates.leaf("renewed", commonName: "admin-hup", names: ["localhost"])
        for (from, to) in [(renewed.cert, admin.cert), (renewed.key, admin.key)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        // The same modification times as before: only SIGHUP can tell the files changed.
        for path in [admin.cert, admin.key] { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: path) }
        #expect(FrontDoor.holds(for: 6) {
            (try? servedSubject(tugboat.adminPort, ca: certificates.caPath)) == "subject=CN = admin-first"
        })
        tugboat.child.signal(SIGHUP)
        try waitUntilBlocking(timeout: .seconds(10), "the certificate re-read on SIGHUP") {
            try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-hup"
        }
    }

    @Test("a reload naming other admin certificate files applies them to new connections; a wrong key there is refused at FILE:LINE")
    func reloadOtherFiles() throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "admin-first", names: ["localhost"])
        let other = try certificates.leaf("other", commonName: "admin-other", names: ["localhost"])
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], adminToken: token, adminTLS: admin)
        #expect(try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-first")
        let original = try String(contentsOfFile: tugboat.configPath, encoding: .utf8)
        let reload = ["-X", "POST", "-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(token)"]

        // A key that is not the certificate's: refused, the running certificate stays.
        try original.replacingOccurrences(of: "key: \(admin.key)", with: "key: \(other.key)").write(toFile: tugboat.configPath, atomically: true, encoding: .utf8)
        let refused = try curl(tugboat.adminPort, "/api/reload", ca: certificates.caPath, arguments: reload)
        #expect(refused.status == "422" && refused.output.contains("\(tugboat.configPath):3: ")
            && refused.output.contains("admin.tls.certificates[0].key"), "\(refused.output)")
        #expect(try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-first")

        try original.replacingOccurrences(of: "cert: \(admin.cert), key: \(admin.key)", with: "cert: \(other.cert), key: \(other.key)")
            .write(toFile: tugboat.configPath, atomically: true, encoding: .utf8)
        let applied = try curl(tugboat.adminPort, "/api/reload", ca: certificates.caPath, arguments: reload)
        #expect(applied.status == "200" && applied.output.contains("admin.tls.certificates"), "\(applied.output)")
        #expect(try servedSubject(tugboat.adminPort, ca: certificates.caPath) == "subject=CN = admin-other")
    }

    @Test("check refuses bad admin.tls files at FILE:LINE with the key",
          arguments: ["wrong-key", "garbage", "world-readable", "missing", "no-key"])
    func badFiles(_ mistake: String) throws {
        let certificates = try TestCertificates()
        let admin = try certificates.leaf("admin", commonName: "localhost", names: ["localhost"])
        let other = try certificates.leaf("other", commonName: "other", names: ["other"])
        var entry = "{ cert: \(admin.cert), key: \(admin.key) }"
        let expected: String
        switch mistake {
        case "wrong-key":
            entry = "{ cert: \(admin.cert), key: \(other.key) }"
            expected = "'admin.tls.certificates[0].key': \(other.key) is not the private key of \(admin.cert)"
        case "garbage":
            try "garbage".write(toFile: admin.cert, atomically: true, encoding: .utf8)
            expected = "'admin.tls.certificates[0].cert': \(admin.cert) holds no PEM certificate"
        case "world-readable":
            chmod(admin.key, 0o644)
            expected = "'admin.tls.certificates[0].key': the private key \(admin.key) is readable by every user (mode 644); chmod 600 it"
        case "missing":
            entry = "{ cert: \(certificates.directory)/nonexistent.pem, key: \(admin.key) }"
            expected = "'admin.tls.certificates[0].cert': cannot read \(certificates.directory)/nonexistent.pem"
        default:
            entry = "{ cert: \(admin.cert) }"
            expected = "'admin.tls.certificates[0]' needs 'cert' and 'key'"
        }
        let path = certificates.directory + "/t.yaml"
        try "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  tls:\n    certificates:\n      - \(entry)\npool:\n  backends: [127.0.0.1:9]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try ChildProcess(arguments: ["check", "--config", path])
        let output = try check.waitForLine(timeout: 10) { $0.contains(path) }
        #expect(check.waitForExit() == 1)
        #expect(output.contains("\(path):6: ") && output.contains(expected), "\(output)")
    }
}
