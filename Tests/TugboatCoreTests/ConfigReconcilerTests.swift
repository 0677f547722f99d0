import Foundation
import Testing
@testable import TugboatCore

@Suite("Config reload: what changed, what needs a restart")
struct ConfigReconcilerTests {
    static let base = """
    listen: 127.0.0.1:8080
    admin: { listen: 127.0.0.1:8081 }
    state: sqlite:./t.db
    pool:
      backends: [127.0.0.1:9001, 127.0.0.1:9002]
    """

    /// Key files the loader can read (0600, as it insists); certificates are any readable file here.
    static let keys: [String] = (0..<2).map { index in
        let path = NSTemporaryDirectory() + "tugboat-reconciler-\(index).key"
        _ = FileManager.default.createFile(atPath: path, contents: Data("k".utf8), attributes: [.posixPermissions: 0o600])
        return path
    }

    func config(_ yaml: String) throws -> TugboatConfig {
        let files = yaml.replacingOccurrences(of: "/c2.pem", with: "/etc/group").replacingOccurrences(of: "/k2.pem", with: Self.keys[1])
            .replacingOccurrences(of: "/c.pem", with: "/etc/passwd").replacingOccurrences(of: "/k.pem", with: Self.keys[0])
        return try ConfigLoader.parse(files, file: "t.yaml")
    }

    func decide(_ old: String, _ new: String) throws -> ConfigReconciler.Decision {
        ConfigReconciler.decide(from: try config(old), to: try config(new))
    }

    func plan(_ new: String, from old: String = base) throws -> ConfigReconciler.Plan {
        let decision = try decide(old, new)
        guard case .apply(let plan) = decision else {
            Issue.record("expected a live plan, got \(decision)")
            return ConfigReconciler.Plan()
        }
        return plan
    }

    @Test("the same file (even with lines moved and comments added) changes nothing")
    func noChange() throws {
        #expect(try plan(Self.base) == ConfigReconciler.Plan())
        #expect(try plan("# a comment\n\n" + Self.base) == ConfigReconciler.Plan())
        let tls = "tls:\n  certificates:\n    - { cert: /c.pem, key: /k.pem }\n"
        #expect(try plan("\n\n" + tls + Self.base, from: tls + Self.base) == ConfigReconciler.Plan())
    }

    @Test("backends added and removed: the static lists are diffed, in file order")
    func backends() throws {
        let new = Self.base.replacingOccurrences(of: "[127.0.0.1:9001, 127.0.0.1:9002]", with: "[127.0.0.1:9003, 127.0.0.1:9002, 127.0.0.1:9004]")
        let plan = try plan(new)
        #expect(plan.changed == ["pool.backends"])
        #expect(plan.added.map(\.description) == ["127.0.0.1:9003", "127.0.0.1:9004"])
        #expect(plan.removed.map(\.description) == ["127.0.0.1:9001"])
        let reordered = Self.base.replacingOccurrences(of: "[127.0.0.1:9001, 127.0.0.1:9002]", with: "[127.0.0.1:9002, 127.0.0.1:9001]")
        #expect(try self.plan(reordered) == ConfigReconciler.Plan())
    }

    @Test("each live section is named when it changes", arguments: [
        ("  balance: least-request\n", "pool.balance"),
        ("  health: { path: /ready }\n", "pool.health"),
        ("  health: { interval: 5s, rise: 1, fall: 1 }\n", "pool.health"),
        ("  passive: { failures: 2 }\n", "pool.passive"),
        ("  retries: 0\n", "pool.retries"),
        ("  timeouts: { connect: 1s }\n", "pool.timeouts"),
        ("  drain: 5s\n", "pool.drain"),
        ("max-connections: 100\n", "max-connections"),
        ("trusted-proxies: [10.0.0.0/8]\n", "trusted-proxies"),
        ("log: { level: debug }\n", "log.level"),
        ("log: { format: json }\n", "log.format"),
        ("monitors:\n  - { name: m, url: http://127.0.0.1:1/ }\n", "monitors"),
    ])
    func liveSections(addition: String, key: String) throws {
        #expect(try plan(Self.base + "\n" + addition).changed == [key])
    }

    @Test("a channel of another kind, or a Twilio channel's settings, need a restart", arguments: [
        // Another kind under the same name: the resolved notices' rules follow the kind.
        ("webhook: { url: http://127.0.0.1:9/ }", "slack: { url: http://127.0.0.1:9/ }"),
        // Twilio's auth token also checks its callbacks at the admin API.
        ("twilio-sms: { account-sid: AC0123456789abcdef0123456789abcdef, auth-token: a, from: '+14155550100', to: ['+14155550101'] }",
         "twilio-sms: { account-sid: AC0123456789abcdef0123456789abcdef, auth-token: b, from: '+14155550100', to: ['+14155550101'] }"),
    ])
    func channelsRestart(old: String, new: String) throws {
        let alerts = { (channel: String) in
            Self.base + "\nalerts:\n  channels: { c: { \(channel) } }\n  rules:\n    - { name: r, condition: backend-down, channels: [c] }\n"
        }
        #expect(try decide(alerts(old), alerts(new)) == .restartNeeded(["alerts.channels"]))
    }

    @Test("a channel's settings (same name, same kind, not Twilio) apply live: the rotated webhook URL")
    func channelSettingsLive() throws {
        let alerts = { (url: String) in
            Self.base + "\nalerts:\n  channels: { hook: { webhook: { url: \(url) } }, chat: { slack: { url: http://127.0.0.1:8/ } } }\n"
                + "  rules:\n    - { name: r, condition: backend-down, channels: [hook, chat] }\n"
        }
        #expect(try plan(alerts("http://127.0.0.1:9/new"), from: alerts("http://127.0.0.1:9/old")).changed == ["alerts.channels"])
        #expect(try plan(alerts("http://127.0.0.1:9/same"), from: alerts("http://127.0.0.1:9/same")).changed == [])
    }

    @Test("changed certificate files apply live")
    func certificates() throws {
        let old = Self.base + "\ntls:\n  certificates:\n    - { cert: /c.pem, key: /k.pem }\n"
        let new = Self.base + "\ntls:\n  certificates:\n    - { cert: /c2.pem, key: /k2.pem }\n"
        #expect(try plan(new, from: old).changed == ["tls.certificates"])
    }

    @Test("several changes at once are all named")
    func several() throws {
        let new = Self.base.replacingOccurrences(of: "127.0.0.1:9001, ", with: "") + "\n  retries: 1\n  timeouts: { request: 5s }\nlog: { level: warning }\n"
        #expect(try plan(new).changed == ["log.level", "pool.backends", "pool.retries", "pool.timeouts"])
    }

    @Test("restart-only settings refuse the reload, naming each", arguments: [
        ("listen: 127.0.0.1:8080", "listen: 127.0.0.1:9090", ["listen"]),
        ("admin: { listen: 127.0.0.1:8081 }", "admin: { listen: 127.0.0.1:8082, token: t }", ["admin.listen", "admin.token"]),
        ("state: sqlite:./t.db", "state: sqlite:./other.db", ["state"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\nthreads: 2", ["threads"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\naccess-log: { path: /tmp/a.log }", ["access-log"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\ntls: { certificates: [{ cert: /c.pem, key: /k.pem }] }", ["tls"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\nprofiling: { source: perf }", ["profiling"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\nscaling: { provider: { exec: { up: ./u, down: ./d } } }", ["scaling"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\nalerts:\n  channels: { hook: { webhook: { url: http://127.0.0.1:9/ } } }\n  rules:\n    - { name: r, condition: backend-down, channels: [hook] }",
         ["alerts.rules", "alerts.channels"]),
        ("state: sqlite:./t.db", "state: sqlite:./t.db\nalerts: { repeat: 5m }", ["alerts"]),
    ])
    func restartOnly(from: String, to: String, keys: [String]) throws {
        let new = Self.base.replacingOccurrences(of: from, with: to) + "\n  retries: 1\n"
        #expect(try decide(Self.base, new) == .restartNeeded(keys))
    }

    @Test("TLS listener settings other than the certificate files need a restart")
    func tlsRestart() throws {
        let old = Self.base + "\ntls:\n  certificates:\n    - { cert: /c.pem, key: /k.pem }\n"
        #expect(try decide(old, old + "  redirect: 127.0.0.1:8000\n") == .restartNeeded(["tls.redirect"]))
        #expect(try decide(old, old + "  http2: false\n") == .restartNeeded(["tls.http2"]))
        #expect(try decide(old, Self.base + "\n  tls: { verify: false }\n") == .restartNeeded(["tls", "pool.tls"]))
    }

    @Test("pool.drain copied into scaling is compared once, as pool.drain")
    func drainWithScaling() throws {
        let scaling = "\nscaling: { provider: { exec: { up: ./u, down: ./d } } }\n"
        #expect(try plan(Self.base + "\n  drain: 3s" + scaling, from: Self.base + scaling).changed == ["pool.drain"])
    }

    @Test("with several nodes (state: redis) the static backends need a restart")
    func clusterBackends() throws {
        let old = Self.base.replacingOccurrences(of: "state: sqlite:./t.db", with: "state: redis://127.0.0.1:6379/0")
        let new = old.replacingOccurrences(of: "127.0.0.1:9001, ", with: "")
        #expect(try decide(old, new) == .restartNeeded(["pool.backends"]))
    }
}
