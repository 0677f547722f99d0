import Foundation
import Testing

/// Issue 15, secrets in text: with every channel configured with a secret and every delivery
/// failing, with a monitor whose URL carries a password and a config error quoting a Redis
/// password, no secret appears in the log, the API's answers or the error text.
@Suite("Secrets never printed", .serialized)
struct SecretRedactionTests {
    let secrets = [
        "admin token": "admin-Secret-4711",
        "Twilio auth token": "twilio-Secret-0815",
        "SMTP password": "smtp-Secret-2342",
        "webhook path": "hook-Secret-path-1234",
        "webhook query token": "hookQuerySecret5678",
        "Slack webhook path": "slackSecretPath9012",
        "monitor URL password": "monitor-Secret-3456",
        "Redis password": "redis-Secret-7890",
    ]

    func yaml(contract: ContractServer) -> String {
        """
        monitors:
          - { name: front, url: "http://watch:\(secrets["monitor URL password"]!)@127.0.0.1:1/health", interval: 100ms, timeout: 500ms }
        alerts:
          retry: { first: 100ms, max: 200ms, attempts: 2 }
          timeout: 1s
          startup-grace: 0s
          group: { wait: 0s }
          channels:
            sms: { twilio-sms: { account-sid: \(ContractServer.accountSID), auth-token: ${TEST_TWILIO_TOKEN}, from: "+15550100000", to: ["+15550100001"], api-base: \(contract.base) } }
            hook: { webhook: { url: "\(contract.base)/hooks/\(secrets["webhook path"]!)?token=\(secrets["webhook query token"]!)" } }
            slack: { slack: { url: "\(contract.base)/services/T0000/B0000/\(secrets["Slack webhook path"]!)" } }
            mail: { email: { smtp: "smtp://127.0.0.1:1", starttls: false, username: ops, password: ${TEST_SMTP_PASSWORD}, from: tugboat@example.com, to: ops@example.com } }
            run: { command: { run: "cat >/dev/null; echo failing >&2; exit 3" } }
          rules:
            - { name: front-down, monitor: front, condition: down, channels: [sms, hook, slack, mail, run] }
        """
    }

    @Test("every channel failing, a monitor URL with a password, config errors: no secret in the log, the API or an error")
    func noSecretPrinted() throws {
        let contract = try ContractServer()
        let environment = ["TEST_TWILIO_TOKEN": secrets["Twilio auth token"]!, "TEST_SMTP_PASSWORD": secrets["SMTP password"]!]
        let tugboat = try TugboatUnderTest(backends: [], extraTop: yaml(contract: contract), adminToken: secrets["admin token"]!,
                                           environment: environment)
        defer { tugboat.stop() }
        try waitUntilBlocking(timeout: .seconds(30), "every channel's delivery to have failed") {
            let rows = try tugboat.notifications()
            let failed = Set(rows.filter { $0["error"] as? String != nil }.compactMap { $0["channel"] as? String })
            return failed.isSuperset(of: ["sms", "hook", "slack", "mail", "run"])
        }
        var texts: [(String, String)] = []
        for path in ["/api/notifications", "/api/incidents", "/api/outages"] {
            texts.append((path, try String(decoding: JSONSerialization.data(withJSONObject: tugboat.admin(path), options: [.withoutEscapingSlashes]), as: UTF8.self)))
        }
        let incident = try #require(tugboat.incidents().first?["id"] as? Int)
        texts.append(("/api/incidents/\(incident)",
                      try String(decoding: JSONSerialization.data(withJSONObject: tugboat.admin("/api/incidents/\(incident)"), options: [.withoutEscapingSlashes]), as: UTF8.self)))

        // A config error quoting the Redis password: on reload (the API's 422 and the log) and from `check`.
        let original = try String(contentsOfFile: tugboat.configPath, encoding: .utf8)
        let broken = original.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("state:") ? "state: redis:/:\(secrets["Redis password"]!)@127.0.0.1:6379" : String(line)
        }
        try broken.joined(separator: "\n").write(toFile: tugboat.configPath, atomically: true, encoding: .utf8)
        let reload = try tugboat.post("/api/reload", body: "{}")
        #expect(reload.status == 422)
        texts.append(("POST /api/reload", reload.text))
        _ = try tugboat.child.waitForLine { $0.contains("config reload refused") }
        let check = try ChildProcess(arguments: ["check", "--config", tugboat.configPath],
                                     environment: environment.merging(["TEST_ADMIN_TOKEN": secrets["admin token"]!]) { a, _ in a })
        #expect(check.waitForExit() == 1)
        texts.append(("tugboat check", check.lines.joined(separator: "\n")))
        texts.append(("the log", tugboat.child.lines.joined(separator: "\n")))

        for (name, secret) in secrets {
            for (place, text) in texts {
                #expect(!text.contains(secret), "the \(name) appears in \(place): \(text)")
            }
        }
        // The texts did quote what held the secrets, redacted.
        let notifications = texts[0].1
        #expect(notifications.contains("127.0.0.1:\(contract.port)/services/T0000/B0000/<redacted>"), "\(notifications)")
        #expect(notifications.contains("127.0.0.1:\(contract.port)/hooks/<redacted>"), "\(notifications)")
        #expect(texts[1].1.contains("watch:<redacted>@127.0.0.1:1"), "\(texts[1].1)")
        #expect(reload.text.contains("redis:/:<redacted>@"), "\(reload.text)")
        #expect(texts.first { $0.0 == "tugboat check" }!.1.contains("redis:/:<redacted>@"))
    }
}
