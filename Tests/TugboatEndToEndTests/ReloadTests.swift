import Foundation
import Synchronization
import Testing

@Suite("Config reload end to end (SIGHUP, POST /api/reload)", .serialized)
struct ReloadTests {
    @Test("SIGHUP applies a new backend list: the added backend gets traffic, the removed one drains and leaves")
    func hangupChangesThePool() throws {
        let a = try DemoBackend(), b = try DemoBackend(), c = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address, b.address])
        try tugboat.waitHealthy([a.address, b.address])

        try tugboat.setBackends([b.address, c.address])
        tugboat.child.signal(SIGHUP)
        try waitUntilBlocking("the pool to be b and c") {
            try Set(tugboat.pool().compactMap { $0["address"] as? String }) == [b.address, c.address]
        }
        try tugboat.waitHealthy([c.address])
        var seen = Set<String>()
        try waitUntilBlocking("traffic to reach c") {
            seen.insert(try TestHTTPClient.get(port: tugboat.port, "/").header("x-backend") ?? "")
            return seen.contains(c.address)
        }
        #expect(!seen.contains(a.address))
        #expect(tugboat.child.lines.contains { $0.contains("config reloaded") && $0.contains("pool.backends") })
    }

    @Test("POST /api/reload answers what changed (log.level applied at once); the same file again changes nothing")
    func postNamesTheChanges() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], adminToken: "secret")
        try tugboat.waitHealthy([a.address])
        try tugboat.editConfig { $0 + "\n  retries: 1\n  timeouts: { request: 5s }\nlog: { level: warning }\n" }
        #expect(try TestHTTPClient(port: tugboat.adminPort).request("POST", "/api/reload", headers: ["Connection": "close"]).status == 401)
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(reply.status == 200)
        #expect(try tugboat.changed(reply.text) == ["log.level", "pool.retries", "pool.timeouts"])
        let again = try tugboat.post("/api/reload", body: "")
        #expect(again.status == 200)
        #expect(try tugboat.changed(again.text) == [])
        #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)
        // log.level applied live: both reloads' info lines were held back at warning; at debug they show.
        #expect(!tugboat.child.lines.contains { $0.contains("config reloaded") })
        try tugboat.editConfig { $0.replacingOccurrences(of: "level: warning", with: "level: debug") }
        #expect(try tugboat.changed(tugboat.post("/api/reload", body: "").text) == ["log.level"])
        try waitUntilBlocking("the reload logged at debug level") {
            tugboat.child.lines.contains { $0.contains("config reloaded") && $0.contains("log.level") }
        }
    }

    @Test("reloads asked for at once run one at a time: exactly one of them applies the change")
    func concurrentReloadsSerialize() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        try tugboat.setBackends([a.address, b.address])
        let answers = Mutex<[(status: Int, text: String)]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            let answer = (try? tugboat.post("/api/reload", body: "")) ?? (0, "")
            answers.withLock { $0.append(answer) }
        }
        let all = answers.withLock { $0 }
        #expect(all.allSatisfy { $0.status == 200 }, "\(all)")
        #expect(try all.map { try tugboat.changed($0.text) }.sorted { $0.count > $1.count }
                == [["pool.backends"], [], [], [], [], []])
        let added = { tugboat.child.lines.filter { $0.contains("backend added") && $0.contains(b.address) }.count }
        try waitUntilBlocking("b added") { added() >= 1 }
        #expect(added() == 1)
    }

    @Test("a broken file is refused with 422 and FILE:LINE; the old config keeps serving")
    func brokenFileRefused() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        try tugboat.setBackends(["nonsense"])
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(reply.status == 422)
        let error = try tugboat.error(reply.text)
        #expect(error.hasPrefix(tugboat.configPath + ":"))
        #expect(Int(error.dropFirst(tugboat.configPath.count + 1).prefix { $0 != ":" }) ?? 0 > 0, "a line number: \(error)")
        #expect(try tugboat.pool().compactMap { $0["address"] as? String } == [a.address])
        #expect(try TestHTTPClient.get(port: tugboat.port, "/").header("x-backend") == a.address)
        #expect(tugboat.child.lines.contains { $0.contains("config reload refused") })

        // SIGHUP with the same broken file: refused too, Tugboat keeps running.
        tugboat.child.signal(SIGHUP)
        try waitUntilBlocking("the second refusal in the log") { tugboat.child.lines.filter { $0.contains("config reload refused") }.count >= 2 }
        #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)
    }

    @Test("a change to the listen address is refused, naming listen; nothing else in the file is applied")
    func listenNeedsRestart() throws {
        let a = try DemoBackend(), b = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        try tugboat.editConfig { $0.replacingOccurrences(of: "listen: 127.0.0.1:0\n", with: "listen: 127.0.0.1:1\n") }
        try tugboat.setBackends([a.address, b.address])
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(reply.status == 422)
        let error = try tugboat.error(reply.text)
        #expect(error.contains("restart") && error.hasSuffix(": listen"), "\(error)")
        #expect(try tugboat.pool().compactMap { $0["address"] as? String } == [a.address])
    }

    @Test("a rotated webhook URL applies live: the next page goes to the new URL, none to the old")
    func channelSettingsLive() throws {
        let old = try ContractServer(), new = try ContractServer()
        let top = old.monitorYAML + "alerts:\n  retry: { first: 100ms, max: 300ms }\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n"
            + "  channels:\n    hook: { webhook: { url: \(old.base)/hook } }\n"
            + "  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [hook] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top)
        try old.waitForChecks(3)
        try tugboat.editConfig { $0.replacingOccurrences(of: "\(old.base)/hook", with: "\(new.base)/hook") }
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(try tugboat.changed(reply.text) == ["alerts.channels"])
        try old.setHealth(up: false)
        try waitUntilBlocking("the page at the new URL") { try new.accepted("hook").count == 1 }
        #expect(try old.attempts("hook") == 0)
    }

    @Test("monitors are replaced as a set: a monitor added by a reload runs, one removed stops")
    func monitorsReplaced() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        try tugboat.editConfig { $0 + "\nmonitors:\n  - { name: first, url: http://127.0.0.1:1/, interval: 200ms, timeout: 100ms }\n" }
        #expect(try tugboat.changed(tugboat.post("/api/reload", body: "").text) == ["monitors"])
        try waitUntilBlocking("monitor first down") { tugboat.child.lines.contains { $0.contains("monitor down") && $0.contains("first") } }
        try tugboat.editConfig { $0.replacingOccurrences(of: "name: first", with: "name: second") }
        #expect(try tugboat.changed(tugboat.post("/api/reload", body: "").text) == ["monitors"])
        try waitUntilBlocking("monitor second down") { tugboat.child.lines.contains { $0.contains("monitor down") && $0.contains("second") } }
        let firstDowns = tugboat.child.lines.filter { $0.contains("monitor down") && $0.contains("first") }.count
        #expect(firstDowns == 1)
    }

    @Test("under load: 20 reloads alternating the backend set, 4 keep-alive clients, 0 failed requests")
    func reloadsUnderLoad() throws {
        let a = try DemoBackend(), b = try DemoBackend(), c = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address, b.address], extraPool: "  drain: 10s")
        try tugboat.waitHealthy([a.address, b.address])

        let load = LoadTally()
        let port = tugboat.port
        let clients = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: clients) {
                var client: TestHTTPClient?
                while !load.stopped {
                    do {
                        if client == nil { client = try TestHTTPClient(port: port) }
                        let response = try client!.request("GET", "/")
                        if response.status == 200 {
                            load.state.withLock { $0.ok += 1; $0.backends.insert(response.header("x-backend") ?? "") }
                        } else {
                            load.state.withLock { $0.failed.append("status \(response.status): \(response.bodyText)") }
                        }
                        if response.header("connection")?.lowercased() == "close" { client = nil }
                    } catch {
                        load.state.withLock { $0.failed.append("\(error)") }
                        client = nil
                    }
                }
            }
        }
        defer { load.stop(); clients.wait() }

        for round in 1...20 {
            let (added, removed) = round % 2 == 1 ? (c.address, b.address) : (b.address, c.address)
            try tugboat.setBackends([a.address, added])
            if round % 4 == 0 {
                #expect(try tugboat.post("/api/reload", body: "").status == 200)
            } else {
                tugboat.child.signal(SIGHUP)
            }
            try waitUntilBlocking("round \(round): \(added) healthy and \(removed) gone") {
                let pool = try tugboat.pool()
                return pool.contains { $0["address"] as? String == added && $0["state"] as? String == "healthy" }
                    && !pool.contains { $0["address"] as? String == removed }
            }
        }
        load.stop()
        clients.wait()
        let result = load.state.withLock { $0 }
        #expect(result.failed.isEmpty, "\(result.failed.count) failed: \(result.failed.prefix(5))")
        #expect(result.ok > 100)
        #expect(result.backends == [a.address, b.address, c.address])
    }
}

/// What the load clients saw, and when they should stop.
final class LoadTally: Sendable {
    let state = Mutex<(ok: Int, failed: [String], backends: Set<String>)>((0, [], []))
    private let done = Atomic(false)
    var stopped: Bool { done.load(ordering: .relaxed) }
    func stop() { done.store(true, ordering: .relaxed) }
}

extension TugboatUnderTest {
    /// Rewrites the config file in place (atomically, as an editor or deploy tool would).
    func editConfig(_ edit: (String) -> String) throws {
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        try edit(text).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Sets `pool.backends` in the config file.
    func setBackends(_ backends: [String]) throws {
        try editConfig { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("  backends:") ? "  backends: [\(backends.joined(separator: ", "))]" : String(line)
            }.joined(separator: "\n")
        }
    }

    func changed(_ body: String) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return try #require(object?["changed"] as? [String], "\(body)")
    }

    func error(_ body: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return try #require(object?["error"] as? String, "\(body)")
    }
}
