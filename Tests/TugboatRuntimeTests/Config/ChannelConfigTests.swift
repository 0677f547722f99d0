import Foundation
import TestSupport
import Testing
import TugboatAlerts
@testable import TugboatCore
@testable import TugboatRuntime

@Suite("Email, PagerDuty and Opsgenie channel config")
struct ChannelConfigTests {
    func parse(_ channels: String) throws -> [String: ChannelConfig] {
        let yaml = "alerts:\n  channels:\n" + channels
        return try ConfigLoader.parse(yaml, file: "t.yaml", environment: ["SMTP_PASSWORD": "smtp-secret", "PD_KEY": "pd-secret", "OG_KEY": "og-secret"])
            .alerts.channels
    }

    @Test("a full email channel parses: STARTTLS by default on smtp://, credentials, several recipients, a CA file")
    func email() throws {
        let ca = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-ca-\(UUID().uuidString).pem").path
        try #require(FileManager.default.createFile(atPath: ca, contents: Data("-----BEGIN CERTIFICATE-----\n".utf8)))
        defer { try? FileManager.default.removeItem(atPath: ca) }
        let channels = try parse("""
            mail: { email: { smtp: "smtp://127.0.0.1:2525", username: tugboat, password: ${SMTP_PASSWORD}, from: "tugboat@example.com", to: ["a@example.com", "b@example.com"], ca: \(ca) } }
            tls: { email: { smtp: "smtps://mail.example.com", from: t@example.com, to: ops@example.com } }
        """)
        guard case .email(let mail) = channels["mail"], case .email(let tls) = channels["tls"] else {
            Issue.record("not email channels: \(channels)")
            return
        }
        #expect(mail.host == "127.0.0.1" && mail.port == 2525 && mail.security == .startTLS)
        #expect(mail.username == "tugboat" && mail.password?.value == "smtp-secret")
        #expect(mail.from == "tugboat@example.com" && mail.to == ["a@example.com", "b@example.com"])
        #expect(mail.caFile == ca)
        #expect(tls.host == "mail.example.com" && tls.port == 465 && tls.security == .implicitTLS && tls.username == nil)
        #expect(tls.to == ["ops@example.com"])
        #expect(!"\(mail)".contains("smtp-secret"))
        #expect(channels["mail"]?.kind == "email" && channels["mail"]?.carriesText == true)
        #expect(channels["mail"]?.receivesAcknowledgements == false)
    }

    @Test("starttls: false is plaintext; smtp:// without a port is port 25")
    func plainEmail() throws {
        let channels = try parse("    m: { email: { smtp: \"smtp://relay.local\", starttls: false, from: a@b, to: c@d } }\n")
        guard case .email(let mail) = channels["m"] else { Issue.record("not email"); return }
        #expect(mail.security == .plain && mail.port == 25)
    }

    @Test("PagerDuty and Opsgenie parse with their defaults and overrides; both receive acknowledgements")
    func incidentTools() throws {
        let channels = try parse("""
            pd: { pagerduty: { routing-key: ${PD_KEY} } }
            pd2: { pagerduty: { routing-key: abc, api-base: "http://127.0.0.1:9/", severity: warning } }
            og: { opsgenie: { api-key: ${OG_KEY} } }
            og2: { opsgenie: { api-key: k, api-base: "https://api.eu.opsgenie.com", priority: P3 } }

        """)
        guard case .pagerDuty(let pd) = channels["pd"], case .pagerDuty(let pd2) = channels["pd2"],
              case .opsgenie(let og) = channels["og"], case .opsgenie(let og2) = channels["og2"] else {
            Issue.record("wrong channel kinds: \(channels)")
            return
        }
        #expect(pd.routingKey.value == "pd-secret" && pd.apiBase == "https://events.pagerduty.com" && pd.severity == "critical")
        #expect(pd2.apiBase == "http://127.0.0.1:9" && pd2.severity == "warning")
        #expect(og.apiKey.value == "og-secret" && og.apiBase == "https://api.opsgenie.com" && og.priority == "P1")
        #expect(og2.apiBase == "https://api.eu.opsgenie.com" && og2.priority == "P3")
        #expect(channels["pd"]?.kind == "pagerduty" && channels["og"]?.kind == "opsgenie")
        #expect(channels["pd"]?.receivesAcknowledgements == true && channels["og"]?.receivesAcknowledgements == true)
        #expect(channels["pd"]?.carriesText == true && channels["og"]?.carriesText == true)
        #expect(!"\(channels)".contains("pd-secret") && !"\(channels)".contains("og-secret"))
    }

    @Test("only the incident tools receive acknowledgements")
    func acknowledgements() {
        #expect(ChannelConfig.log.receivesAcknowledgements == false)
        #expect(ChannelConfig.webhook(url: "http://x").receivesAcknowledgements == false)
    }

    @Test("mistakes are reported with file, line and key", arguments: [
        ("    m: { email: { smtp: \"http://x\", from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.smtp' must be an smtp:// or smtps:// URL, got 'http://x'"),
        ("    m: { email: { smtp: \"smtp://u:p@x\", from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.smtp': put the credentials in 'username' and 'password', not in the URL"),
        ("    m: { email: { smtp: \"smtp://x:99999\", from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.smtp' must be smtp://host[:port] or smtps://host[:port], got 'smtp://x:99999'"),
        ("    m: { email: { smtp: \"smtps://x\", starttls: true, from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.starttls' does not apply to smtps://"),
        ("    m: { email: { smtp: \"smtp://x\", from: tugboat, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.from' must be an email address like oncall@example.com, got 'tugboat'"),
        ("    m:\n      email:\n        smtp: \"smtp://x\"\n        from: a@b\n        to: [c@d, \"x y@z\"]\n",
         "t.yaml:7: 'alerts.channels.m.email.to[1]' must be an email address like oncall@example.com, got 'x y@z'"),
        ("    m: { email: { smtp: \"smtp://x\", from: a@b, to: [] } }\n",
         "t.yaml:3: 'alerts.channels.m.email.to' needs at least one address"),
        ("    m: { email: { smtp: \"smtp://x\", from: a@b } }\n", "t.yaml:3: 'alerts.channels.m.email.to' is required"),
        ("    m: { email: { smtp: \"smtp://x\", username: u, from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.username' needs 'password' too"),
        ("    m: { email: { smtp: \"smtp://x\", username: u, password: \"\", from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.password' is empty"),
        ("    m: { email: { smtp: \"smtp://x\", from: a@b, to: c@d, ca: /nonexistent/ca.pem } }\n",
         "t.yaml:3: 'alerts.channels.m.email.ca': cannot read the CA file '/nonexistent/ca.pem'"),
        ("    m: { email: { smtp: \"smtp://x\", starttls: maybe, from: a@b, to: c@d } }\n",
         "t.yaml:3: 'alerts.channels.m.email.starttls' must be true or false, got 'maybe'"),
        ("    p: { pagerduty: { routing-key: \"\" } }\n", "t.yaml:3: 'alerts.channels.p.pagerduty.routing-key' is empty"),
        ("    p: { pagerduty: {} }\n", "t.yaml:3: 'alerts.channels.p.pagerduty.routing-key' is required"),
        ("    p: { pagerduty: { routing-key: k, severity: high } }\n",
         "t.yaml:3: 'alerts.channels.p.pagerduty.severity' must be one of critical, error, warning, info, got 'high'"),
        ("    p: { pagerduty: { routing-key: k, api-base: events.pagerduty.com } }\n",
         "t.yaml:3: 'alerts.channels.p.pagerduty.api-base' must be an http:// or https:// URL, got 'events.pagerduty.com'"),
        ("    p: { pagerduty: { routing-key: ${NOPE} } }\n",
         "t.yaml:3: 'alerts.channels.p.pagerduty.routing-key': environment variable NOPE is not set"),
        ("    o: { opsgenie: { api-key: k, priority: P6 } }\n",
         "t.yaml:3: 'alerts.channels.o.opsgenie.priority' must be one of P1 to P5, got 'P6'"),
        ("    o: { opsgenie: { api-key: \" \" } }\n", "t.yaml:3: 'alerts.channels.o.opsgenie.api-key' is empty"),
        ("    o:\n      opsgenie:\n        api-key: k\n        api-base: ftp://x\n",
         "t.yaml:6: 'alerts.channels.o.opsgenie.api-base' must be an http:// or https:// URL, got 'ftp://x'"),
        ("    o: { opsgenie: { api-key: k, region: eu } }\n", "t.yaml:3: unknown key 'alerts.channels.o.opsgenie.region'"),
    ])
    func errors(channels: String, expected: String) {
        expectConfigError(expected) { try parse(channels) }
    }
}
