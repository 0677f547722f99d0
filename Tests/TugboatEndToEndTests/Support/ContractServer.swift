import Foundation

/// The `tugboat-contract` Twilio stand-in, as a child process on a free port.
final class ContractServer: @unchecked Sendable {
    static let accountSID = "AC0123456789abcdef0123456789abcdef"
    static let authToken = "contract-secret-token"
    let child: ChildProcess
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let binary = URL(fileURLWithPath: tugboatExecutable).deletingLastPathComponent().appendingPathComponent("tugboat-contract").path
        child = try ChildProcess(executable: binary, arguments: ["--port", "0", "--account-sid", Self.accountSID, "--auth-token", Self.authToken])
        let line = try child.waitForLine { $0.contains("contract server listening on") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else { throw TestFailure("no port in \(line)") }
        self.port = port
    }

    /// Every request the server saw, in order (`kind`: call, sms, hook, slack; `status`: what it answered).
    func requests() throws -> [[String: Any]] {
        let response = try TestHTTPClient.get(port: port, "/_contract/requests")
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
    }

    func accepted(_ kind: String) throws -> [[String: Any]] {
        try requests().filter { $0["kind"] as? String == kind && ($0["status"] as? Int == 201 || $0["status"] as? Int == 200) }
    }

    func attempts(_ kind: String) throws -> Int { try requests().filter { $0["kind"] as? String == kind }.count }

    func fail(_ mode: String, count: Int) throws {
        _ = try TestHTTPClient(port: port).request("POST", "/_contract/fail", headers: ["Connection": "close"],
                                                   body: "{\"mode\":\"\(mode)\",\"count\":\(count)}")
    }

    func setHealth(up: Bool) throws {
        _ = try TestHTTPClient(port: port).request("POST", "/_contract/health/\(up ? "up" : "down")", headers: ["Connection": "close"], body: "")
    }

    func healthHits() throws -> Int {
        let object = try JSONSerialization.jsonObject(with: Data(TestHTTPClient.get(port: port, "/_contract/health/hits").body)) as? [String: Any]
        return object?["hits"] as? Int ?? 0
    }

    /// Waits for `count` more health checks: time measured in the monitor's own beats.
    func waitForChecks(_ count: Int) throws {
        let start = try healthHits()
        try waitUntilBlocking("\(count) more health checks") { try healthHits() >= start + count }
    }

    /// YAML for Twilio channels `call` and `sms` pointed at this server, plus `hook` and `slack` sinks.
    func channelsYAML(to: [String] = ["+15550100001"]) -> String {
        let twilio = "account-sid: \(Self.accountSID), auth-token: ${TEST_TWILIO_TOKEN}, from: \"+15550100000\", to: [\(to.map { "\"\($0)\"" }.joined(separator: ", "))], api-base: \(base)"
        return """
          channels:
            call: { twilio-call: { \(twilio) } }
            sms: { twilio-sms: { \(twilio) } }
            hook: { webhook: { url: \(base)/hook } }
            slack: { slack: { url: \(base)/slack } }
        """
    }

    var monitorYAML: String {
        "monitors:\n  - { name: front, url: \(base)/_contract/health, interval: 100ms, timeout: 500ms }\n"
    }
}
