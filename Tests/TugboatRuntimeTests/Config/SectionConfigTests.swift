import TestSupport
import Testing
import TugboatAdmin
import TugboatAlerts
import TugboatCapture
@testable import TugboatCore
@testable import TugboatRuntime
import TugboatScaling

// Sections checked through the whole load (their tests were in TugboatCoreTests beside the loader).

@Suite("Config: the log: and access-log: sections")
struct LogConfigTests {
    @Test("log: { format, level } is parsed; unknown values name FILE:LINE and the key")
    func config() throws {
        let config = try ConfigLoader.parse("log: { format: json, level: warning }\n", file: "t.yaml")
        #expect(config.log == LogSettings(format: .json, level: .warning))
        #expect(try ConfigLoader.parse("listen: 127.0.0.1:1\n", file: "t.yaml").log == LogSettings())
        expectConfigError("t.yaml:2: 'log.format' must be text or json, got 'xml'") { try ConfigLoader.parse("listen: 127.0.0.1:1\nlog: { format: xml }\n", file: "t.yaml") }
        expectConfigError("t.yaml:1: 'log.level' must be one of trace, debug, info") { try ConfigLoader.parse("log: { level: loud }\n", file: "t.yaml") }
        expectConfigError("t.yaml:1: unknown key 'log.colour'") { try ConfigLoader.parse("log: { colour: true }\n", file: "t.yaml") }
    }

    @Test("access-log: { path, format } is off by default, combined unless json; errors name FILE:LINE and the key")
    func accessLog() throws {
        #expect(try ConfigLoader.parse("listen: 127.0.0.1:1\n", file: "t.yaml").accessLog == nil)
        let file = try ConfigLoader.parse("access-log:\n  path: /var/log/tugboat/access.log\n", file: "t.yaml").accessLog
        #expect(file?.path == "/var/log/tugboat/access.log" && file?.format == .combined && file?.pathLine == 2)
        let stdout = try ConfigLoader.parse("access-log: { path: \"-\", format: json }\n", file: "t.yaml").accessLog
        #expect(stdout?.isStandardOutput == true && stdout?.format == .json)
        expectConfigError("t.yaml:3: 'access-log.format' must be combined or json, got 'clf'") {
            try ConfigLoader.parse("access-log:\n  path: a.log\n  format: clf\n", file: "t.yaml")
        }
        expectConfigError("t.yaml:1: 'access-log.path' must not be empty") { try ConfigLoader.parse("access-log: { path: \"\" }\n", file: "t.yaml") }
        expectConfigError("t.yaml:1: 'access-log.path' is required") { try ConfigLoader.parse("access-log: { format: json }\n", file: "t.yaml") }
        expectConfigError("t.yaml:1: unknown key 'access-log.rotate'") { try ConfigLoader.parse("access-log: { path: a, rotate: daily }\n", file: "t.yaml") }
    }
}

@Suite("Config: env: and sizes")
struct EnvironmentConfigTests {
    @Test("env: parses for the process and exec providers and the command channel")
    func configKeys() throws {
        func parse(_ yaml: String) throws -> TugboatConfig { try ConfigLoader.parse(yaml, file: "t.yaml") }
        let process = try parse("scaling:\n  provider: { process: { command: \"app {port}\", ports: 9100-9110, env: { APP_MODE: prod, WORKERS: 4 } } }\n")
        #expect(process.scaling?.provider == .process(command: "app {port}", ports: 9100...9110, env: ["APP_MODE": "prod", "WORKERS": "4"]))
        let exec = try parse("scaling:\n  provider: { exec: { up: ./up.sh, down: ./down.sh, env: { REGION: eu } } }\n")
        #expect(exec.scaling?.provider == .exec(up: "./up.sh", down: "./down.sh", timeout: .seconds(300), env: ["REGION": "eu"]))
        let channel = try parse("alerts:\n  channels:\n    run: { command: { run: [/usr/local/bin/notify], env: { TEAM: infra } } }\n")
        #expect(channel.alerts.channels["run"] == .command(["/usr/local/bin/notify"], env: ["TEAM": "infra"]))
        expectConfigError("t.yaml:2: 'scaling.provider.process.env': '1BAD' is not an environment variable name") {
            try parse("scaling:\n  provider: { process: { command: \"app {port}\", ports: 9100-9110, env: { 1BAD: x } } }\n")
        }
    }

    @Test("sizes parse with units and name the key when wrong")
    func sizes() throws {
        func parse(_ yaml: String) throws -> TugboatConfig { try ConfigLoader.parse(yaml, file: "t.yaml") }
        let profiling = try parse("profiling: { source: push, max-body: 2MiB, max-decompressed: 1GiB }\n").profiling
        #expect(profiling?.maxBody == 2 << 20)
        #expect(profiling?.maxDecompressed == 1 << 30)
        #expect(try parse("profiling: { source: push }\n").profiling?.maxDecompressed == 64 << 20)
        expectConfigError("t.yaml:1: 'profiling.max-body' must be a size like 512KiB") {
            try parse("profiling: { source: push, max-body: lots }\n")
        }
        expectConfigError("t.yaml:1: 'profiling.max-decompressed' must be between") {
            try parse("profiling: { source: push, max-decompressed: 10 }\n")
        }
    }
}

@Suite("Config: the secrets a config names")
struct ConfigSecretsTests {
    @Test("a config names its secrets: tokens, keys, passwords, hook paths, passwords in URLs")
    func configSecrets() throws {
        let yaml = """
        state: redis://:redis-pass@127.0.0.1:6379/0
        local-state: sqlite:/tmp/x.db
        admin: { listen: 127.0.0.1:8081, token: admin-token }
        monitors:
          - { name: front, url: "https://ops:mon-pass@example.com/health" }
        alerts:
          channels:
            sms: { twilio-sms: { account-sid: AC0123456789abcdef0123456789abcdef, auth-token: twilio-tok, from: "+15550100000", to: ["+15550100001"] } }
            hook: { webhook: { url: "https://example.com/hooks/hook-path-123?sig=q-secret" } }
            slack: { slack: { url: "https://example.com/slack" } }
            mail: { email: { smtp: "smtp://mail.example.com", username: u, password: mail-pass, from: a@example.com, to: b@example.com } }
            pd: { pagerduty: { routing-key: pd-routing-key } }
          rules:
            - { name: r, monitor: front, condition: down, channels: [sms, hook, slack, mail, pd] }
        """
        let config = try ConfigLoader.parse(yaml, file: "t.yaml")
        let secrets = Set(config.secrets)
        for expected in ["redis-pass", "admin-token", "mon-pass", "twilio-tok", "hook-path-123", "q-secret", "mail-pass", "pd-routing-key"] {
            #expect(secrets.contains(expected), "\(expected) not in \(secrets)")
        }
        // Short path words are not secrets: they would hide "hook" and "slack" everywhere.
        #expect(!secrets.contains("hooks") && !secrets.contains("slack"))
    }
}

@Suite("Config: the admin listener's access from the whole file")
struct AdminAccessConfigTests {
    @Test("host names from admin.listen, admin.url and alerts.public-url; a link's key lasts profiling.link-expiry, 24h without it")
    func access() throws {
        let config = try ConfigLoader.parse("""
            admin: { listen: "tugboat-admin:8081", token: t0ken, url: "https://admin.example.com/" }
            alerts: { public-url: "https://hooks.example.com/tugboat" }
            """, file: "t.yaml")
        let access = AdminAccess(config)
        #expect(access.hostNames == ["tugboat-admin", "admin.example.com", "hooks.example.com"])
        #expect(access.linkExpiry == .seconds(24 * 3600) && access.linkExpiry == ProfilingSettings.defaultLinkExpiry)
        #expect(AdminAccess().linkExpiry == ProfilingSettings.defaultLinkExpiry)
        let profiled = try ConfigLoader.parse("profiling: { source: push, link-expiry: 2h }\n", file: "t.yaml")
        #expect(AdminAccess(profiled).linkExpiry == .seconds(7200))
    }
}
