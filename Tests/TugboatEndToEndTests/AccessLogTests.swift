import TestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `access-log:` on a running `tugboat serve`: the lines in the file, SIGUSR1 after logrotate's
/// rename, the counters in /metrics, and the errors of a bad `access-log` section.
@Suite("Access log end to end", .serialized)
struct AccessLogEndToEndTests {
    static func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "tugboat-access-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The file's complete lines as JSON objects.
    static func jsonLines(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test("json: a 200, a backend's 404, a malformed request's 400 and a retried GET each get their line; SIGUSR1 reopens after a rename")
    func jsonLinesAndReopen() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/access.log"
        let a = try DemoBackend(), b = try DemoBackend()
        // One event loop: round robin alternates strictly. Active checks once a minute, so the
        // killed backend stays in the pool and a request meets it.
        let tugboat = try TugboatUnderTest(
            backends: [a.address, b.address], extraPool: "  retries: 1",
            extraTop: "threads: 1\naccess-log: { path: \(path), format: json }",
            health: "{ path: /health, interval: 60s, timeout: 500ms, rise: 1, fall: 2 }"
        )
        try tugboat.waitHealthy([a.address, b.address])

        let ok = try TestHTTPClient(port: tugboat.port).request("GET", "/echo?x=1", headers: ["Connection": "close"])
        #expect(ok.status == 200)
        let missing = try TestHTTPClient(port: tugboat.port).request("GET", "/status?code=404", headers: ["Connection": "close"])
        #expect(missing.status == 404)
        let raw = try TestHTTPClient(port: tugboat.port)
        try raw.send("GET /no-host HTTP/1.1\r\n\r\n")
        #expect(try raw.readResponse().0.status == 400)
        b.kill()
        for _ in 0..<2 {
            #expect(try TestHTTPClient(port: tugboat.port).request("GET", "/retry", headers: ["Connection": "close"]).status == 200)
        }

        var lines: [[String: Any]] = []
        try waitUntilBlocking("five access-log lines") {
            lines = Self.jsonLines(path)
            return lines.count >= 5
        }
        let byTarget = { (target: String) in lines.filter { $0["target"] as? String == target } }
        let echo = try #require(byTarget("/echo?x=1").first)
        #expect(echo["status"] as? Int == 200 && echo["method"] as? String == "GET" && echo["protocol"] as? String == "HTTP/1.1")
        #expect(echo["client"] as? String == "127.0.0.1")
        #expect(echo["request_id"] as? String == ok.header("x-request-id"))
        #expect([a.address, b.address].contains(echo["upstream"] as? String ?? ""))
        #expect((echo["bytes_out"] as? Int ?? 0) == ok.body.count)
        #expect((echo["upstream_ms"] as? Double ?? -1) >= 0 && (echo["total_ms"] as? Double ?? -1) >= (echo["upstream_ms"] as? Double ?? 0))
        #expect((echo["time"] as? String)?.hasSuffix("Z") == true)
        #expect(byTarget("/status?code=404").first?["status"] as? Int == 404)
        let refused = try #require(byTarget("/no-host").first, "\(lines)")
        #expect(refused["status"] as? Int == 400 && refused["upstream"] is NSNull && refused["request_id"] is NSNull, "\(refused)")
        let retried = byTarget("/retry")
        #expect(retried.count == 2 && retried.allSatisfy { $0["status"] as? Int == 200 && $0["upstream"] as? String == a.address })
        #expect(retried.compactMap { $0["retries"] as? Int }.sorted() == [0, 1], "\(retried)")

        // logrotate: rename, SIGUSR1, and new lines go to a new file at the old path.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        tugboat.child.signal(SIGUSR1)
        try waitUntilBlocking("the access log to be reopened") { FileManager.default.fileExists(atPath: path) }
        #expect(try TestHTTPClient(port: tugboat.port).request("GET", "/after-rotation", headers: ["Connection": "close"]).status == 200)
        try waitUntilBlocking("the line in the new file") { Self.jsonLines(path).contains { $0["target"] as? String == "/after-rotation" } }
        #expect(!Self.jsonLines(path + ".1").contains { $0["target"] as? String == "/after-rotation" })
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? 0
        #expect(permissions & 0o137 == 0, "\(String(permissions, radix: 8))")

        let page = try TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText
        #expect(page.contains("# HELP tugboat_access_log_dropped_total "))
        #expect(FrontDoor.metric("tugboat_access_log_dropped_total", in: page) == 0)
        #expect((FrontDoor.metric("tugboat_access_log_lines_total", in: page) ?? 0) >= 6)
        #expect(tugboat.child.lines.contains { $0.contains("access log reopened") })
    }

    @Test("combined: the standard fields with Referer and User-Agent, then Tugboat's; a clean stop writes the last lines")
    func combinedLine() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/access.log"
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "access-log: { path: \(path) }")
        try tugboat.waitHealthy([backend.address])
        let response = try TestHTTPClient(port: tugboat.port).request(
            "GET", "/echo?q=1", headers: ["User-Agent": "probe/1.0 \"x\"", "Referer": "http://ref.example/", "Connection": "close"])
        #expect(response.status == 200)
        // SIGTERM: the loop's batch is handed over after the drain and written before exit.
        tugboat.child.signal(SIGTERM)
        #expect(tugboat.child.waitForExit() == 0)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("/echo") }.map(String.init), "\(text)")
        let pattern = #"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /echo\?q=1 HTTP/1\.1" 200 \d+ "http://ref\.example/" "probe/1\.0 \\x22x\\x22" request_id=[0-9a-f]+-[0-9a-f]+ upstream=127\.0\.0\.1:\d+ upstream_ms=\d+\.\d{3} total_ms=\d+\.\d{3} retries=0 bytes_in=0$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
    }

    @Test("HTTP/2: each stream gets its line, protocol HTTP/2.0")
    func http2Streams() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/access.log"
        let certificates = try TestCertificates()
        let site = try certificates.leaf("site", commonName: "localhost", names: ["localhost", "127.0.0.1"])
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(
            backends: [backend.address],
            extraTop: "tls:\n  certificates:\n    - { cert: \(site.cert), key: \(site.key) }\naccess-log: { path: \(path), format: json }")
        try tugboat.waitHealthy([backend.address])
        let port = tugboat.port
        let answer = try Curl.run(port: port, ca: certificates.caPath,
                                  ["--http2", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                                   "https://localhost:\(port)/h2-one", "https://localhost:\(port)/status?code=404"])
        #expect(answer.output == "200 2404 2", "\(answer.output)")
        var lines: [[String: Any]] = []
        try waitUntilBlocking("two HTTP/2 lines") {
            lines = Self.jsonLines(path)
            return lines.count >= 2
        }
        #expect(lines.allSatisfy { $0["protocol"] as? String == "HTTP/2.0" }, "\(lines)")
        #expect(lines.map { $0["status"] as? Int ?? 0 }.sorted() == [200, 404])
        #expect(lines.contains { $0["target"] as? String == "/h2-one" && $0["upstream"] as? String == backend.address })
    }

    @Test("errors: an unknown format or empty path at FILE:LINE naming the key; a path that cannot be opened stops serve")
    func errors() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/bad.yaml"
        try "listen: 127.0.0.1:0\naccess-log:\n  path: \(directory)/a.log\n  format: xml\n".write(toFile: config, atomically: true, encoding: .utf8)
        let check = try ChildProcess(arguments: ["check", "--config", config])
        #expect(check.waitForExit() == 1)
        #expect(check.lines.contains("\(config):4: 'access-log.format' must be combined or json, got 'xml'"), "\(check.lines)")
        try "listen: 127.0.0.1:0\naccess-log: { path: \"\" }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let empty = try ChildProcess(arguments: ["check", "--config", config])
        #expect(empty.waitForExit() == 1)
        #expect(empty.lines.contains { $0.hasPrefix("\(config):2: 'access-log.path' must not be empty") }, "\(empty.lines)")

        let missing = directory + "/no/such/dir/access.log"
        try """
        listen: 127.0.0.1:0
        admin: { listen: 127.0.0.1:0 }
        state: sqlite:\(directory)/state.db
        access-log: { path: \(missing), format: json }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let serve = try ChildProcess(arguments: ["serve", "--config", config])
        #expect(serve.waitForExit() == 1)
        #expect(serve.lines.contains("error: cannot open the access log \(missing) ('access-log.path'): No such file or directory"), "\(serve.lines)")
    }
}
