import Foundation
import Synchronization
import Testing

@Suite("Proxy resilience end to end", .serialized)
struct ProxyResilienceTests {
    @Test("a backend killed with SIGKILL under load causes no failed GET")
    func killUnderLoad() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address, b.address])
        try tugboat.waitHealthy([a.address, b.address])
        let done = Atomic<Int>(0), failures = Mutex<[String]>([]), stop = Atomic<Bool>(false)
        let workers = 4
        let group = DispatchGroup()
        for _ in 0..<workers {
            DispatchQueue.global().async(group: group) {
                var client: TestHTTPClient?
                while !stop.load(ordering: .relaxed) {
                    do {
                        if client == nil { client = try TestHTTPClient(port: tugboat.port) }
                        let response = try client!.request("GET", "/work?ms=1")
                        if response.status != 200 { failures.withLock { $0.append("status \(response.status): \(response.bodyText)") } }
                        if response.header("connection")?.lowercased() == "close" { client = nil }
                        done.add(1, ordering: .relaxed)
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                        client = nil
                    }
                }
            }
        }
        try waitUntilBlocking("load to be under way") { done.load(ordering: .relaxed) >= 200 }
        a.kill()
        let atKill = done.load(ordering: .relaxed)
        try waitUntilBlocking(timeout: .seconds(60), "1000 more requests after the kill") { done.load(ordering: .relaxed) >= atKill + 1000 }
        stop.store(true, ordering: .relaxed)
        group.wait()
        #expect(failures.withLock { $0 } == [])
        try waitUntilBlocking("the killed backend to be marked unhealthy") { try tugboat.state(of: a.address) == "unhealthy" }
    }

    @Test("idempotent requests are retried on another backend after a connect failure; POST never; passive ejection")
    func retriesAndPassiveEjection() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        // Active checks every minute: after the first one, only live traffic can notice a's death.
        let tugboat = try TugboatUnderTest(
            backends: [a.address, b.address],
            extraPool: "  passive: { failures: 3, ejection: 30s }\n  retries: 1",
            health: "{ path: /health, interval: 60s, timeout: 500ms, rise: 1, fall: 2 }"
        )
        try tugboat.waitHealthy([a.address, b.address])
        a.kill()
        let client = try TestHTTPClient(port: tugboat.port)
        var postStatuses: [Int] = []
        for _ in 0..<2 {
            let post = try client.request("POST", "/upload", body: "data")
            postStatuses.append(post.status)
            if post.status == 502 { #expect(post.bodyText.contains(a.address)) }
        }
        #expect(postStatuses.sorted() == [200, 502])
        for _ in 0..<6 {
            let get = try TestHTTPClient(port: tugboat.port).request("GET", "/")
            #expect(get.status == 200)
            #expect(get.header("x-backend") == b.address)
        }
        try waitUntilBlocking("passive ejection of the dead backend") { try tugboat.state(of: a.address) == "unhealthy" }
        let reason = try tugboat.pool().first { $0["address"] as? String == a.address }?["reason"] as? String
        #expect(reason?.contains("ejected") == true)
    }

    @Test("a backend answering 5xx is ejected by passive detection")
    func passiveEjectionOn5xx() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraPool: "  passive: { failures: 3, ejection: 30s }",
                                           health: "{ path: /health, interval: 60s, timeout: 500ms, rise: 1, fall: 2 }")
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        for _ in 0..<3 { #expect(try client.request("GET", "/status?code=500").status == 500) }
        try waitUntilBlocking("ejection after three 5xx") { try tugboat.state(of: a.address) == "unhealthy" }
    }

    @Test("slowloris: a client trickling its head gets 408 and is cut at the header timeout; others are served")
    func slowloris() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraPool: "  timeouts: { header: 1s }")
        try tugboat.waitHealthy([a.address])
        let slow = try TestHTTPClient(port: tugboat.port)
        try slow.send("GET / HTTP/1.1\r\nHost: x\r\n")
        let started = Date()
        var cut = false
        for index in 0..<40 {
            do {
                try slow.send("X-Slow-\(index): y\r\n")
            } catch {
                cut = true
                break
            }
            #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)
            usleep(100_000)  // the attacker's pace, not a wait for a condition
            if Date().timeIntervalSince(started) > 1.5 { break }
        }
        let (response, _) = try slow.readResponse()
        #expect(response.status == 408)
        #expect(slow.isClosedByPeer())
        #expect(Date().timeIntervalSince(started) < 3)
        _ = cut
    }

    @Test("malformed requests get 400 or 431 and are closed; the proxy keeps serving")
    func malformedRequests() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let cases: [(String, Int)] = [
            ("GARBAGE\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 70 * 1024))\r\n\r\n", 431),
            ("GET / HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n", 400),
        ]
        for (request, expected) in cases {
            let client = try TestHTTPClient(port: tugboat.port)
            try? client.send(request)
            let (response, _) = try client.readResponse()
            #expect(response.status == expected, "\(request.prefix(60))")
            #expect(client.isClosedByPeer())
            #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)
        }
    }

    @Test("SIGTERM stops accepting, lets in-flight requests finish, exits 0")
    func gracefulDrain() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraPool: "  drain: 10s")
        try tugboat.waitHealthy([a.address])
        let inflight = try TestHTTPClient(port: tugboat.port)
        try inflight.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        try waitUntilBlocking("the slow request to reach the backend") {
            try tugboat.pool().first?["inflight"] as? Int == 1
        }
        tugboat.child.signal(SIGTERM)
        try waitUntilBlocking("the listener to close") {
            (try? TestHTTPClient(port: tugboat.port)) == nil
        }
        let (response, _) = try inflight.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText.contains("slept 1500 ms"))
        #expect(tugboat.child.waitForExit() == 0)
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idleTimeout() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraPool: "  timeouts: { idle: 500ms }")
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port)
        #expect(try client.request("GET", "/").status == 200)
        let started = Date()
        #expect(client.isClosedByPeer())
        #expect(Date().timeIntervalSince(started) < 3)
    }
}
