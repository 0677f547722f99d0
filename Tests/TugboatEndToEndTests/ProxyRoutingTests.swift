import Foundation
import Testing

/// Live tests: real `tugboat serve` and demo-app processes on free ports of 127.0.0.1.
@Suite("Proxy end to end", .serialized)
struct ProxyRoutingTests {
    @Test("round robin spreads requests over every healthy backend")
    func distribution() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address, b.address])
        try tugboat.waitHealthy([a.address, b.address])
        let client = try TestHTTPClient(port: tugboat.port)
        var seen: [String: Int] = [:]
        for _ in 0..<20 {
            let response = try client.request("GET", "/")
            #expect(response.status == 200)
            seen[response.header("x-backend") ?? "?", default: 0] += 1
        }
        #expect(seen[a.address] == 10)
        #expect(seen[b.address] == 10)
    }

    @Test("least-request sends to the backend with fewer requests in flight")
    func leastRequest() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address, b.address], extraPool: "  balance: least-request")
        try tugboat.waitHealthy([a.address, b.address])
        // Hold one slow request on whichever backend gets it; every quick one then goes to the other.
        let slow = try TestHTTPClient(port: tugboat.port)
        try slow.send("GET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n")
        var busy: String?
        try waitUntilBlocking("the slow request to be in flight") {
            busy = try tugboat.pool().first { ($0["inflight"] as? Int) == 1 }?["address"] as? String
            return busy != nil
        }
        let client = try TestHTTPClient(port: tugboat.port)
        for _ in 0..<10 {
            let response = try client.request("GET", "/")
            #expect(response.header("x-backend") != busy)
        }
        #expect(try slow.readResponse().0.status == 200)
    }

    @Test("forwarding headers added, hop-by-hop headers stripped, request id generated or passed on")
    func headers() throws {
        let a = try DemoBackend()
        // The client's X-Forwarded-For is kept only from trusted proxies (FrontDoorTests checks the untrusted case).
        let tugboat = try TugboatUnderTest(backends: [a.address], extraTop: "trusted-proxies: [127.0.0.0/8]")
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        let response = try client.request("GET", "/echo", headers: [
            "Connection": "keep-alive, X-Hop", "X-Hop": "secret", "Keep-Alive": "timeout=5", "TE": "trailers",
            "X-Forwarded-For": "10.1.2.3", "Proxy-Authorization": "Basic abc", "Host": "test.local",
        ])
        #expect(response.status == 200)
        let echo = try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
        let seen = echo["headers"] as! [String: String]
        #expect(seen["x-forwarded-for"] == "10.1.2.3, 127.0.0.1")
        #expect(seen["x-forwarded-proto"] == "http")
        #expect(seen["x-forwarded-host"] == "test.local")
        #expect(seen["via"] == "1.1 tugboat")
        for hop in ["x-hop", "keep-alive", "te", "proxy-authorization", "connection"] {
            #expect(seen[hop] == nil, "\(hop) must not reach the backend")
        }
        let generated = try #require(seen["x-request-id"])
        #expect(!generated.isEmpty)
        #expect(response.header("x-request-id") == generated)
        #expect(response.header("via") == "1.1 tugboat")

        let mine = try client.request("GET", "/echo", headers: ["X-Request-Id": "abc-123"])
        let mineSeen = (try JSONSerialization.jsonObject(with: Data(mine.body)) as! [String: Any])["headers"] as! [String: String]
        #expect(mineSeen["x-request-id"] == "abc-123")
        #expect(mine.header("x-request-id") == "abc-123")
    }

    @Test("one client connection carries many requests, and upstream connections are reused")
    func keepAlive() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        for index in 0..<200 {
            let response = try client.request(index % 2 == 0 ? "GET" : "POST", "/upload", body: index % 2 == 0 ? nil : "hello")
            #expect(response.status == 200)
        }
        // 200 requests, yet the backend saw only a handful of connections from the proxy.
        let connections = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
            .split(separator: "\n").filter { $0.contains(":" + String(format: "%04X", a.port) + " ") && $0.contains(" 01 ") }
        #expect(connections.count <= 6)
    }

    @Test("pipelined requests are answered in order")
    func pipelining() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        try client.send("GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\nPOST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /status?code=202 HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try client.readResponse().0, second = try client.readResponse().0, third = try client.readResponse().0
        #expect(first.bodyText == "slept 200 ms\n")
        #expect(second.bodyText == "{\"bytes\":3}\n")
        #expect(third.status == 202)
    }

    @Test("100 Continue from the backend reaches the client, which then sends its body")
    func expectContinue() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port, timeout: 5)
        try client.send("PUT /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        let interim = try client.readResponse().0  // the body is held back until this arrives
        #expect(interim.status == 100)
        try client.send("hello")
        let final = try client.readResponse().0
        #expect(final.status == 200)
        #expect(final.bodyText == "{\"bytes\":5}\n")
    }

    @Test("no healthy backend answers 503 with a clear body")
    func noHealthyBackend() throws {
        let tugboat = try TugboatUnderTest(backends: ["127.0.0.1:1"])
        let response = try TestHTTPClient.get(port: tugboat.port, "/")
        #expect(response.status == 503)
        #expect(response.bodyText.contains("no healthy backend"))
    }

    @Test("a request over the request timeout answers 504 naming the backend")
    func requestTimeout() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraPool: "  timeouts: { request: 500ms }\n  retries: 0")
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        let response = try client.request("GET", "/slow?ms=3000")
        #expect(response.status == 504)
        #expect(response.bodyText.contains(a.address))
        // The connection is still usable.
        #expect(try client.request("GET", "/").status == 200)
    }

    @Test("Upgrade requests are tunnelled byte for byte")
    func upgradeTunnel() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        try client.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        let (head, _) = try client.readResponse()
        #expect(head.status == 101)
        #expect(head.header("upgrade")?.lowercased() == "echo")
        for message in ["ping", "hello through the tunnel"] {
            try client.send(message)
            var received = ""
            try waitUntilBlocking(timeout: .seconds(5), "echo of \(message)") {
                var chunk = [UInt8](repeating: 0, count: 256)
                let n = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { received += String(decoding: chunk[0..<n], as: UTF8.self) }
                return received == message
            }
        }
    }

    @Test("admin API requires the bearer token when one is set; /healthz does not")
    func adminToken() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraTop: "", adminToken: "s3cret-token")
        #expect(try TestHTTPClient.get(port: tugboat.adminPort, "/api/pool").status == 401)
        #expect(try TestHTTPClient.get(port: tugboat.adminPort, "/api/pool", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try TestHTTPClient.get(port: tugboat.adminPort, "/api/pool", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
        #expect(try TestHTTPClient.get(port: tugboat.adminPort, "/healthz").status == 200)
        let metrics = try TestHTTPClient.get(port: tugboat.adminPort, "/metrics", headers: ["Authorization": "Bearer s3cret-token"])
        #expect(metrics.bodyText.contains("tugboat_backend_up"))
        #expect(!tugboat.child.lines.joined().contains("s3cret-token"))
    }
}

@Suite("Traffic meter and health checks end to end", .serialized)
struct TrafficAndHealthTests {
    @Test("/metrics and /api/pool count requests per backend and status class")
    func metrics() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        for _ in 0..<7 { #expect(try client.request("GET", "/").status == 200) }
        for _ in 0..<3 { #expect(try client.request("GET", "/status?code=503").status == 503) }
        #expect(try client.request("HEAD", "/").status == 200)  // HEAD: no body expected, none read
        try waitUntilBlocking("the collector to publish the second") {
            try tugboat.pool().first?["requests"] as? Int == 11
        }
        let metrics = try TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText
        #expect(metrics.contains("tugboat_requests_total{backend=\"\(a.address)\",code=\"2xx\"} 8"))
        #expect(metrics.contains("tugboat_requests_total{backend=\"\(a.address)\",code=\"5xx\"} 3"))
        #expect(metrics.contains("tugboat_request_duration_seconds_count{backend=\"\(a.address)\"} 11"))
        #expect(metrics.contains("tugboat_backend_up{backend=\"\(a.address)\"} 1"))
        #expect(metrics.contains("tugboat_backend_state{backend=\"\(a.address)\",state=\"healthy\"} 1"))
        #expect(metrics.contains("tugboat_backend_state{backend=\"\(a.address)\",state=\"unhealthy\"} 0"))
        #expect(metrics.contains("tugboat_build_info{version=\"0.5.0\""))
        #expect(metrics.contains("tugboat_health_checks_total{backend=\"\(a.address)\",result=\"passed\"}"))
        #expect(metrics.contains("# HELP tugboat_health_checks_total Active health checks"))
        #expect(!metrics.contains("tugboat_requests_per_second"), "a rate is Prometheus' to compute")
        #expect(metrics.contains("tugboat_notifications{status=\"pending\"} 0"), "the outbox is in /metrics")
    }

    @Test("without a health path, a TCP connect is the check; a closed port turns the backend unhealthy")
    func tcpCheck() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address, "127.0.0.1:1"],
                                           health: "{ path: \"\", interval: 200ms, timeout: 500ms, rise: 1, fall: 1 }")
        try tugboat.waitHealthy([a.address])
        try waitUntilBlocking("the closed port to be unhealthy") { try tugboat.state(of: "127.0.0.1:1") == "unhealthy" }
        a.kill()
        try waitUntilBlocking("the killed backend to be unhealthy") { try tugboat.state(of: a.address) == "unhealthy" }
    }
}
