import TestSupport
import Testing
import TugboatAlerts
import TugboatCapture
@testable import TugboatCore
@testable import TugboatRuntime

@Suite("Monitors and alerts config")
struct AlertsConfigTests {
    let channels = """
    alerts:
      channels:
        call: { twilio-call: { account-sid: AC0123456789abcdef0123456789abcdef, auth-token: ${T}, from: "+14155550100", to: ["+14155550111", "+14155550122"], api-base: "http://127.0.0.1:9/" } }
        hook: { webhook: { url: http://127.0.0.1:9999/hook } }
        run: { command: { run: "echo hi" } }
        log: { log: {} }
    """

    func parse(_ yaml: String) throws -> TugboatConfig {
        try ConfigLoader.parse(yaml, file: "t.yaml", environment: ["T": "secret-token"])
    }

    @Test("a full monitors and alerts section parses")
    func full() throws {
        let yaml = """
        monitors:
          - { name: front, url: http://127.0.0.1:8080/health, interval: 15s, timeout: 2s, retries: 1, expect-body: ok }
          - { name: db, tcp: 127.0.0.1:5432 }

        """ + channels + """

          repeat: 10m
          retry: { first: 2s, max: 1m, attempts: 5 }
          rules:
            - { name: front-down, monitor: front, condition: down, channels: [call], escalate: { after: 5m, channels: [hook] } }
            - { name: errors, condition: error-rate-above, threshold: 5%, for: 30s, keep-firing-for: 1m, channels: [hook, log] }
            - { name: slow, condition: p99-above, threshold: 500ms, channels: [run] }
            - { name: spike, condition: rps-above, threshold: 200, channels: [log] }
        """
        let config = try parse(yaml)
        #expect(config.monitors.map(\.name) == ["front", "db"])
        #expect(config.monitors[0].target == .http(url: "http://127.0.0.1:8080/health", expectStatus: nil, expectBody: "ok"))
        #expect(config.monitors[1].target == .tcp(HostPort(host: "127.0.0.1", port: 5432)))
        guard case .twilioCall(let twilio) = config.alerts.channels["call"] else { Issue.record("call"); return }
        #expect(twilio.to == ["+14155550111", "+14155550122"])
        #expect(twilio.apiBase == "http://127.0.0.1:9")
        #expect(twilio.authToken.value == "secret-token")
        #expect(config.alerts.channels["run"] == .command(["/bin/sh", "-c", "echo hi"]))
        #expect(config.alerts.repeatInterval == .seconds(600))
        #expect(config.alerts.retryAttempts == 5)
        #expect(config.alerts.rules.map(\.condition) == [.down(monitor: "front"), .errorRateAbove(0.05), .p99Above(.milliseconds(500)), .rpsAbove(200)])
        #expect(config.alerts.rules[0].escalate == .init(after: .seconds(300), channels: ["hook"]))
        #expect(config.alerts.rules[1].pendingFor == .seconds(30) && config.alerts.rules[1].keepFiringFor == .seconds(60))
        #expect(!"\(config)".contains("secret-token"))
    }

    @Test("instance-exited rules and the profiling section parse; an exit stays firing 5 minutes by default")
    func crashForensics() throws {
        let config = try parse("""
        admin: { listen: 127.0.0.1:8081, url: "https://ops.example.com/tugboat/" }
        profiling: { source: py-spy, rate: 49, window: 20s }
        """ + "\n" + channels + """

          rules:
            - { name: crash, condition: instance-exited, channels: [hook] }
            - { name: crash-short, condition: instance-exited, keep-firing-for: 30s, channels: [hook] }
        """)
        #expect(config.profiling == ProfilingSettings(source: .pySpy, rate: 49, window: .seconds(20)))
        #expect(config.admin.url == "https://ops.example.com/tugboat")
        #expect(config.alerts.rules.map(\.condition) == [.instanceExited, .instanceExited])
        #expect(config.alerts.rules.map(\.keepFiringFor) == [.seconds(300), .seconds(30)])
    }

    @Test("with state: redis:// Redis is watched as the monitor `redis`, which rules can name")
    func redisMonitor() throws {
        let config = try parse("state: redis://user:pw@127.0.0.1:6390/2\n" + channels + "\n  rules:\n    - { name: r, monitor: redis, condition: down, channels: [log] }\n")
        #expect(config.monitors.map(\.name) == ["redis"])
        #expect(config.monitors.first?.target == .tcp(HostPort(host: "127.0.0.1", port: 6390)))
        #expect(config.alerts.rules.first?.condition == .down(monitor: "redis"))
        #expect(try parse("state: redis://localhost/0\n").monitors.first?.target == .tcp(HostPort(host: "localhost", port: 6379)))
        #expect(try parse("state: sqlite:x.db\n").monitors.isEmpty)
    }

    @Test("mistakes are reported with file, line and key", arguments: [
        ("monitors:\n  - { name: a, url: ftp://x }\n", "t.yaml:2: 'monitors[0].url' must be an http:// or https:// URL"),
        ("monitors:\n  - { name: a }\n", "t.yaml:2: 'monitors[0]' needs exactly one of 'url' (HTTP check) or 'tcp' (host:port)"),
        ("alerts:\n  rules:\n    - { name: r, condition: down, monitor: nope }\n", "t.yaml:3: rule 'r': no monitor named 'nope'"),
        ("alerts:\n  rules:\n    - { name: r, condition: rps-above }\n", "t.yaml:3: rule 'r': condition rps-above needs a 'threshold'"),
        ("alerts:\n  rules:\n    - { name: r, condition: backend-down, channels: [pager] }\n", "t.yaml:3: rule 'r': no channel named 'pager' under alerts.channels"),
        ("alerts:\n  rules:\n    - { name: r, condition: on-fire }\n", "t.yaml:3: rule 'r': unknown condition 'on-fire'"),
        ("alerts:\n  channels:\n    c: { twilio-sms: { account-sid: AC1, auth-token: x, from: \"+14155550100\", to: \"+14155550111\" } }\n",
         "t.yaml:3: 'alerts.channels.c.twilio-sms.account-sid' must be a Twilio account SID"),
        ("alerts:\n  channels:\n    c: { twilio-sms: { account-sid: AC0123456789abcdef0123456789abcdef, auth-token: x, from: \"+14155550100\", to: \"555-0111\" } }\n",
         "t.yaml:3: 'alerts.channels.c.twilio-sms.to' must be a phone number in E.164 form"),
        ("alerts:\n  channels:\n    c: { pager-duty: {} }\n", "t.yaml:3: unknown key 'alerts.channels.c.pager-duty'"),
        ("alerts:\n  rules:\n    - { name: r, condition: error-rate-above, threshold: 150% }\n", "t.yaml:3: 'alerts.rules[0].threshold' must be a share like 0.05 or 5%"),
    ])
    func errors(yaml: String, expected: String) {
        expectConfigError(expected) { try parse(yaml) }
    }
}
