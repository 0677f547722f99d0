import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, the admin listener: a token off loopback, JSON-only writes (CSRF), the `Host` check
/// (DNS rebinding) and the head timeout (slowloris), each over raw sockets.
@Suite("Admin listener hardening", .serialized)
struct AdminHardeningTests {
    /// The status of a raw request on a new connection.
    func status(_ port: Int, _ request: String) throws -> Int {
        let fd = try #require(connectLoopback(port: port, timeout: 5))
        defer { close(fd) }
        #expect(FrontDoor.sendAll(fd, request))
        let answer = String(decoding: FrontDoor.readUntilClose(fd, within: 5).bytes, as: UTF8.self)
        let parts = answer.split(separator: " ", maxSplits: 2)
        return parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
    }

    @Test("serve refuses an admin listener beyond loopback without a token, naming FILE:LINE and the key")
    func tokenRequiredOffLoopback() throws {
        let path = NSTemporaryDirectory() + "tugboat-admin-\(UUID().uuidString).yaml"
        try "listen: 127.0.0.1:0\nadmin: { listen: 0.0.0.0:0 }\n".write(toFile: path, atomically: true, encoding: .utf8)
        let child = try ChildProcess(arguments: ["serve", "--config", path])
        #expect(child.waitForExit() == 1)
        #expect(child.lines.contains { $0.hasPrefix("\(path):2: 'admin.token' is required when 'admin.listen' (0.0.0.0:0)") }, "\(child.lines)")
    }

    @Test("writes without Content-Type: application/json are refused with 415, before anything changes")
    func jsonWrites() throws {
        let tugboat = try TugboatUnderTest(backends: [])
        defer { tugboat.stop() }
        let port = tugboat.adminPort
        let body = "address=127.0.0.1:1"
        for type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
            let request = "POST /api/pool/backends HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            #expect(try status(port, request) == 415, "\(type)")
        }
        #expect(try status(port, "POST /api/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") == 415)
        #expect(try status(port, "DELETE /api/pool/backends/127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") == 415)
        #expect(try tugboat.pool().isEmpty)
        let json = "{\"address\":\"127.0.0.1:1\"}"
        #expect(try status(port, "POST /api/pool/backends HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n\(json)") == 201)
    }

    @Test("a Host that is not the admin listener's (DNS rebinding) gets 421; its addresses, localhost and admin.url's name are answered")
    func hostChecked() throws {
        let tugboat = try TugboatUnderTest(backends: [], extraTop: "", adminURL: "http://tugboat.internal:8081")
        defer { tugboat.stop() }
        let port = tugboat.adminPort
        func get(_ host: String) throws -> Int {
            try status(port, "GET /api/pool HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
        }
        #expect(try get("evil.example:\(port)") == 421)
        #expect(try get("rebound.attacker.test") == 421)
        #expect(try get("127.0.0.1:\(port)") == 200)
        #expect(try get("[::1]:\(port)") == 200)
        #expect(try get("localhost:\(port)") == 200)
        #expect(try get("tugboat.internal:8081") == 200)
        #expect(try status(port, "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n") == 421)
    }

    @Test("a partial request head, or none, is closed after the 10 s head timeout (it stayed open 35 s)")
    func headTimeout() throws {
        let tugboat = try TugboatUnderTest(backends: [])
        defer { tugboat.stop() }
        let partial = try #require(connectLoopback(port: tugboat.adminPort, timeout: 5))
        defer { close(partial) }
        let silent = try #require(connectLoopback(port: tugboat.adminPort, timeout: 5))
        defer { close(silent) }
        let started = Date()
        #expect(FrontDoor.sendAll(partial, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        #expect(FrontDoor.peerCloses(partial, within: 14))
        let closedAfter = Date().timeIntervalSince(started)
        #expect(closedAfter >= 9 && closedAfter < 13, "closed after \(closedAfter) s")
        #expect(FrontDoor.peerCloses(silent, within: 2))
        // A complete request on a fresh connection is answered as before.
        #expect(try status(tugboat.adminPort, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") == 200)
    }

    @Test("a flame-graph link's key opens while its incident is open and stops at profiling.link-expiry after it resolved")
    func linkKeyExpires() throws {
        let contract = try ContractServer()
        let backend = try DemoBackend()
        let top = """
        profiling: { source: push, link-expiry: 0s }
        alerts:
          timeout: 1s
          startup-grace: 0s
          group: { wait: 0s }
        """ + "\n" + contract.channelsYAML() + """

          rules:
            - { name: down, condition: backend-down, channels: [hook] }
        """
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: top, adminToken: "link-test-token",
                                           environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        defer { tugboat.stop() }
        try tugboat.waitHealthy([backend.address])
        backend.kill()
        try waitUntilBlocking(timeout: .seconds(20), "the page with the link") { try !contract.accepted("hook").isEmpty }
        let body = try #require(contract.accepted("hook")[0]["body"] as? String)
        let hook = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let link = try #require(hook["flamegraph"] as? String)
        let path = try #require(URLComponents(string: link).map { $0.percentEncodedPath + "?" + ($0.percentEncodedQuery ?? "") })
        func status(_ path: String) throws -> Int {
            try TestHTTPClient(port: tugboat.adminPort).request("GET", path, headers: ["Connection": "close"]).status
        }
        // Open: the key is accepted (404: nothing was captured for this backend, but not 401).
        #expect(try status(path) == 404)
        #expect(try status(path.replacingOccurrences(of: "key=", with: "key=0")) == 401)
        let back = try DemoBackend(port: backend.port)
        defer { back.kill() }
        try waitUntilBlocking(timeout: .seconds(20), "the incident resolved") { try tugboat.incidents().first?["state"] as? String == "resolved" }
        #expect(try status(path) == 401)
    }
}
