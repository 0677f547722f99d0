import Testing
import TugboatCore

@Suite("Redaction: the one rule for secrets in text")
struct RedactorTests {
    let redactor = Redactor(secrets: ["twilio-token-1234", "p@ss word", "ab"])

    @Test("known secrets, as written and percent-encoded; too-short ones are left alone")
    func knownSecrets() {
        #expect(redactor.redact("auth twilio-token-1234 failed") == "auth <redacted> failed")
        #expect(redactor.redact("smtp://u:p%40ss%20word@host") == "smtp://u:<redacted>@host")
        #expect(redactor.redact("about abc") == "about abc")
    }

    @Test("passwords in URLs, whatever the scheme; the user and host stay")
    func userinfo() {
        let none = Redactor()
        #expect(none.redact("state: redis://:hunter2@10.0.0.5:6379/0") == "state: redis://:<redacted>@10.0.0.5:6379/0")
        #expect(none.redact("GET https://ops:s3cr%3At@example.com/health: refused") == "GET https://ops:<redacted>@example.com/health: refused")
        #expect(none.redact("got 'redis:/:hunter2@host'") == "got 'redis:/:<redacted>@host'")
        #expect(none.redact("mail ops@example.com at 12:30") == "mail ops@example.com at 12:30")
        #expect(none.redact("must be redis://[user:password@]host") == "must be redis://[user:password@]host")
    }

    @Test("credentials in headers, webhook paths and secret-looking query parameters")
    func patterns() {
        let none = Redactor()
        #expect(none.redact("Authorization: Bearer abc.DEF-123") == "Authorization: Bearer <redacted>")
        #expect(none.redact("basic QWxhZGRpbjpvcGVu") == "basic <redacted>")
        #expect(none.redact("https://hooks.slack.com/services/T0001/B0002/XyZ123abc: 404")
                == "https://hooks.slack.com/services/<redacted>: 404")
        #expect(none.redact("https://discord.com/api/webhooks/123456/abc_DEF-9") == "https://discord.com/api/webhooks/<redacted>")
        #expect(none.redact("http://h/x?a=1&api_key=zzz&token=yyy#f") == "http://h/x?a=1&api_key=<redacted>&token=<redacted>#f")
        #expect(none.redact("nothing secret here: a=b") == "nothing secret here: a=b")
    }

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

    @Test("a config error quoting a secret is redacted")
    func configError() {
        let error = ConfigError(file: "t.yaml", line: 3, message: "'state' must be sqlite:PATH or redis://HOST:PORT/DB, got 'redis:/:hunter2@h'")
        #expect(!"\(error)".contains("hunter2"))
        #expect("\(error)".hasPrefix("t.yaml:3: "))
    }
}
