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

    @Test("a config error quoting a secret is redacted")
    func configError() {
        let error = ConfigError(file: "t.yaml", line: 3, message: "'state' must be sqlite:PATH or redis://HOST:PORT/DB, got 'redis:/:hunter2@h'")
        #expect(!"\(error)".contains("hunter2"))
        #expect("\(error)".hasPrefix("t.yaml:3: "))
    }
}
