import Foundation

/// A demo-app backend process on a free port.
final class DemoBackend {
    let child: ChildProcess
    let port: Int
    var address: String { "127.0.0.1:\(port)" }

    /// `port`: 0 for a free one, or the port of an earlier backend brought back.
    init(port: Int = 0) throws {
        child = try ChildProcess(arguments: ["demo-app", "--port", String(port)])
        let line = try child.waitForLine { $0.contains("demo-app listening on") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.split(separator: " ")[0]) }) else {
            throw TestFailure("cannot read demo-app port from: \(line)")
        }
        self.port = port
    }

    func kill() { child.stop() }
}


/// `tugboat serve` on free ports in front of the given backends, with a config written for the test.
final class TugboatUnderTest: @unchecked Sendable {
    let child: ChildProcess
    let port: Int
    let adminPort: Int
    let configPath: String
    let statePath: String
    let adminToken: String?

    init(backends: [String], extraPool: String = "", extraTop: String = "", adminToken: String? = nil,
         health: String = "{ path: /health, interval: 200ms, timeout: 500ms, rise: 1, fall: 2 }",
         statePath: String = NSTemporaryDirectory() + "tugboat-test-\(UUID().uuidString).db",
         environment: [String: String] = [:], redis: String? = nil, node: String? = nil,
         prelude: String? = nil, listen: String = "127.0.0.1:0", adminListen: String = "127.0.0.1:0",
         launcher: [String] = [], adminURL: String? = nil, adminTLS: (cert: String, key: String)? = nil) throws {
        configPath = NSTemporaryDirectory() + "tugboat-test-\(UUID().uuidString).yaml"
        self.statePath = statePath
        let state = redis.map { "state: \($0)\nlocal-state: sqlite:\(statePath)\nnode: \(node ?? "node")" } ?? "state: sqlite:\(statePath)"
        let yaml = """
        \(state)
        listen: \(listen)
        admin: { listen: \(adminListen)\(adminToken == nil ? "" : ", token: ${TEST_ADMIN_TOKEN}")\(adminURL.map { ", url: \"\($0)\"" } ?? "")\(adminTLS.map { ", tls: { certificates: [{ cert: \($0.cert), key: \($0.key) }] }" } ?? "") }
        \(extraTop)
        pool:
          backends: [\(backends.joined(separator: ", "))]
          health: \(health)
        \(extraPool)
        """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        var env = environment
        if let adminToken { env["TEST_ADMIN_TOKEN"] = adminToken }
        if let program = launcher.first {
            // e.g. setpriv, to run Tugboat as an unprivileged user.
            child = try ChildProcess(executable: program, arguments: launcher.dropFirst() + [tugboatExecutable, "serve", "--config", configPath],
                                     environment: env)
        } else if let prelude {
            // Exec'd by a shell, so the prelude (e.g. `ulimit -n 256`) applies to the proxy itself.
            child = try ChildProcess(executable: "/bin/sh",
                                     arguments: ["-c", "\(prelude); exec \"$0\" \"$@\"", tugboatExecutable, "serve", "--config", configPath],
                                     environment: env)
        } else {
            child = try ChildProcess(arguments: ["serve", "--config", configPath], environment: env)
        }
        self.adminToken = adminToken
        port = try Self.port(from: child.waitForLine { $0.contains("proxy listening") }, key: "listen.address=")
        adminPort = try Self.port(from: child.waitForLine { $0.contains("admin listening") }, key: "admin.address=")
    }

    private static func port(from line: String, key: String) throws -> Int {
        guard let range = line.range(of: key),
              let port = line[range.upperBound...].split(separator: " ")[0].split(separator: ":").last.flatMap({ Int($0) })
        else { throw TestFailure("no \(key) in: \(line)") }
        return port
    }

    /// `GET /api/pool`, decoded.
    func pool() throws -> [[String: Any]] {
        let response = try TestHTTPClient.get(port: adminPort, "/api/pool",
                                              headers: adminToken.map { token in ["Authorization": "Bearer " + token] } ?? [:])
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return object?["backends"] as? [[String: Any]] ?? []
    }

    func state(of address: String) throws -> String? {
        try pool().first { $0["address"] as? String == address }?["state"] as? String
    }

    func waitHealthy(_ addresses: [String]) throws {
        try waitUntilBlocking("backends healthy: \(addresses)") {
            try addresses.allSatisfy { try state(of: $0) == "healthy" }
        }
    }

    /// `GET` an admin path (with the token when one is set), decoded as JSON.
    func admin(_ path: String, method: String = "GET") throws -> Any {
        var headers = adminToken.map { ["Authorization": "Bearer " + $0, "Connection": "close"] } ?? ["Connection": "close"]
        if method != "GET" { headers["Content-Type"] = "application/json" }
        let response = try TestHTTPClient(port: adminPort).request(method, path, headers: headers, body: method == "POST" ? "" : nil)
        return try JSONSerialization.jsonObject(with: Data(response.body))
    }

    /// A request with a body to an admin path (with the token when one is set).
    func post(_ path: String, method: String = "POST", body: String) throws -> (status: Int, text: String) {
        var headers = adminToken.map { ["Authorization": "Bearer " + $0, "Connection": "close"] } ?? ["Connection": "close"]
        headers["Content-Type"] = "application/json"
        let response = try TestHTTPClient(port: adminPort).request(method, path, headers: headers, body: body)
        return (response.status, response.bodyText)
    }

    func incidents() throws -> [[String: Any]] { try admin("/api/incidents") as? [[String: Any]] ?? [] }
    func notifications() throws -> [[String: Any]] { try admin("/api/notifications") as? [[String: Any]] ?? [] }

    func stop() {
        child.stop()
        try? FileManager.default.removeItem(atPath: configPath)
    }

    deinit { stop() }
}
