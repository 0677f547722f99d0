import Foundation
import Testing
import TugboatAlerts
@testable import TugboatCore
@testable import TugboatRuntime
import TugboatScaling

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

    static let twilio = "account-sid: AC0123456789abcdef0123456789abcdef, from: '+14155550100', to: ['+14155550101']"

    @Test("any change of the channels applies live: the senders are made anew and the alert manager learns the kinds", arguments: [
        // Another kind under the same name: the resolved notices' rules follow the kind.
        ("c: { webhook: { url: http://127.0.0.1:9/ } }", "c: { slack: { url: http://127.0.0.1:9/ } }"),
        // A Twilio channel's auth token (it also checks Twilio's callbacks at the admin API).
        ("c: { twilio-sms: { \(ConfigReconcilerTests.twilio), auth-token: a } }", "c: { twilio-sms: { \(ConfigReconcilerTests.twilio), auth-token: b } }"),
        // A channel added, and one removed.
        ("c: { webhook: { url: http://127.0.0.1:9/ } }", "c: { webhook: { url: http://127.0.0.1:9/ } }, d: { slack: { url: http://127.0.0.1:8/ } }"),
        ("c: { webhook: { url: http://127.0.0.1:9/ } }, d: { slack: { url: http://127.0.0.1:8/ } }", "c: { webhook: { url: http://127.0.0.1:9/ } }"),
    ])
    func channelsLive(old: String, new: String) throws {
        let alerts = { (channels: String) in
            Self.base + "\nalerts:\n  channels: { \(channels) }\n  rules:\n    - { name: r, condition: backend-down, channels: [c] }\n"
        }
        let plan = try plan(alerts(new), from: alerts(old))
        #expect(plan.changed == ["alerts.channels"])
        #expect(plan.steps == [.replaceSenders, .replaceAlerts])
    }

    @Test("a channel's settings (same name, same kind, not Twilio) apply live: the rotated webhook URL")
    func channelSettingsLive() throws {
        let alerts = { (url: String) in
            Self.base + "\nalerts:\n  channels: { hook: { webhook: { url: \(url) } }, chat: { slack: { url: http://127.0.0.1:8/ } } }\n"
                + "  rules:\n    - { name: r, condition: backend-down, channels: [hook, chat] }\n"
        }
        #expect(try plan(alerts("http://127.0.0.1:9/new"), from: alerts("http://127.0.0.1:9/old")).changed == ["alerts.channels"])
        #expect(try plan(alerts("http://127.0.0.1:9/new"), from: alerts("http://127.0.0.1:9/old")).steps == [.replaceSenders, .replaceAlerts])
        #expect(try plan(alerts("http://127.0.0.1:9/same"), from: alerts("http://127.0.0.1:9/same")).changed == [])
    }

    @Test("changed certificate files apply live")
    func certificates() throws {
        let old = Self.base + "\ntls:\n  certificates:\n    - { cert: /c.pem, key: /k.pem }\n"
        let new = Self.base + "\ntls:\n  certificates:\n    - { cert: /c2.pem, key: /k2.pem }\n"
        #expect(try plan(new, from: old).changed == ["tls.certificates"])
    }

    @Test("admin.tls: other certificate files apply live (lines moved change nothing); switching TLS on or off needs a restart")
    func adminCertificates() throws {
        let tls = "admin: { listen: 127.0.0.1:8081, tls: { certificates: [{ cert: /c.pem, key: /k.pem }] } }"
        let old = Self.base.replacingOccurrences(of: "admin: { listen: 127.0.0.1:8081 }", with: tls)
        let new = old.replacingOccurrences(of: "cert: /c.pem, key: /k.pem", with: "cert: /c2.pem, key: /k2.pem")
        let changes = try plan(new, from: old)
        #expect(changes.changed == ["admin.tls.certificates"])
        #expect(changes.steps == [.replaceCertificates])
        #expect(try plan("# moved\n\n" + old, from: old).changed.isEmpty)
        #expect(try decide(Self.base, old) == .restartNeeded(["admin.tls"]))
        #expect(try decide(old, Self.base) == .restartNeeded(["admin.tls"]))
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

    @Test("scaling or profiling switched off, another provider kind, another docker daemon: a restart, named")
    func scalingAndProfilingRestart() throws {
        let exec = Self.base + "\nscaling: { provider: { exec: { up: ./u, down: ./d } } }\n"
        let docker = { (socket: String) in Self.base + "\nscaling: { provider: { docker: { image: web:1, port: 80, socket: \(socket) } } }\n" }
        #expect(try decide(exec, Self.base) == .restartNeeded(["scaling"]))
        #expect(try decide(exec, docker("/run/docker.sock")) == .restartNeeded(["scaling.provider"]))
        #expect(try decide(docker("/run/docker.sock"), docker("/run/other.sock")) == .restartNeeded(["scaling.provider.docker.socket"]))
        #expect(try decide(Self.base + "\nprofiling: { source: perf }\n", Self.base) == .restartNeeded(["profiling"]))
        // The admin listener's Host check and flame-graph link lifetime are built with its routes.
        #expect(try decide(Self.base + "\nprofiling: { source: perf }\n", Self.base + "\nprofiling: { source: perf, link-expiry: 1h }\n")
                == .restartNeeded(["profiling.link-expiry"]))
        #expect(try decide(Self.base, Self.base + "\nalerts: { public-url: https://t.example }\n") == .restartNeeded(["alerts.public-url"]))
    }

    @Test("the alerts section applies live, each key named with what the reloader does", arguments: [
        ("  repeat: 5m\n", ["alerts.repeat"], [ConfigReconciler.Step.replaceAlerts]),
        ("  timeout: 3s\n", ["alerts.timeout"], [.replaceSenders]),
        ("  retry: { first: 2s, attempts: 3 }\n", ["alerts.retry"], [.setRetryPolicy]),
        ("  group: { by: [rule], wait: 1s }\n", ["alerts.group"], [.replaceAlerts]),
        ("  inhibit: []\n", ["alerts.inhibit"], [.replaceAlerts]),
        ("  maintenance:\n    - { name: w, cron: '0 3 * * *', duration: 1h }\n", ["alerts.maintenance"], [.replaceAlerts]),
        ("  flapping: { changes: 5 }\n", ["alerts.flapping"], [.replaceAlerts]),
        ("  startup-grace: 0s\n", ["alerts.startup-grace"], [.replaceAlerts]),
    ])
    func alertsLive(addition: String, keys: [String], steps: [ConfigReconciler.Step]) throws {
        let old = Self.base + "\nalerts:\n  channels: { c: { webhook: { url: http://127.0.0.1:9/ } } }\n"
        let plan = try plan(old + addition, from: old)
        #expect(plan.changed == keys)
        #expect(plan.steps == Set(steps))
    }

    @Test("the rules apply live: added, removed, or edited (threshold, for, channels)", arguments: [
        "    - { name: r, condition: backend-down, channels: [c] }\n    - { name: s, condition: no-healthy-backends, channels: [c] }\n",
        "",
        "    - { name: r, condition: backend-down, for: 30s, channels: [c] }\n",
        "    - { name: r, condition: rps-above, threshold: 10, channels: [c] }\n",
    ])
    func rulesLive(rules: String) throws {
        let alerts = { (rules: String) in
            Self.base + "\nalerts:\n  channels: { c: { webhook: { url: http://127.0.0.1:9/ } } }\n" + (rules.isEmpty ? "" : "  rules:\n" + rules)
        }
        let plan = try plan(alerts(rules), from: alerts("    - { name: r, condition: backend-down, channels: [c] }\n"))
        #expect(plan.changed == ["alerts.rules"])
        #expect(plan.steps == [.replaceAlerts])
    }

    @Test("scaling settings and the provider's own settings apply live", arguments: [
        ("min: 2", ["scaling.min"]),
        ("max: 3", ["scaling.max"]),
        ("target-rps: 20", ["scaling.target-rps"]),
        ("up-rps: 20, down-rps: 5", ["scaling.target-rps", "scaling.up-rps", "scaling.down-rps"]),
        ("cooldown-up: 1s, stabilize-down: 10s", ["scaling.cooldown-up", "scaling.stabilize-down"]),
        ("window: 20s, panic-window: 4s", ["scaling.window", "scaling.panic-window"]),
        ("idle-to-zero: 1m, start-timeout: 10s", ["scaling.idle-to-zero", "scaling.start-timeout"]),
        ("target-inflight: 4", ["scaling.target-inflight"]),
    ])
    func scalingLive(setting: String, keys: [String]) throws {
        let scaling = { (extra: String) in
            Self.base + "\nscaling: { provider: { process: { command: 'app {port}', ports: 9100-9199 } }\(extra) }\n"
        }
        let plan = try plan(scaling(", " + setting), from: scaling(""))
        #expect(plan.changed == keys)
        #expect(plan.steps == [.updateScaling])
        let provider = try self.plan(scaling("").replacingOccurrences(of: "app {port}", with: "app2 {port}"), from: scaling(""))
        #expect(provider.changed == ["scaling.provider"])
        #expect(provider.steps == [.updateScaling])
    }

    @Test("pool.drain with scaling on also reaches the scaler (its instances drain as long)")
    func drainReachesTheScaler() throws {
        let scaling = "\nscaling: { provider: { exec: { up: ./u, down: ./d } } }\n"
        #expect(try plan(Self.base + "\n  drain: 3s" + scaling, from: Self.base + scaling).steps == [.reconfigureDataPlane, .setDrain, .updateScaling])
    }

    @Test("profiling settings apply live", arguments: [
        ("source: pprof-url", ["profiling.source"]),
        ("source: perf, rate: 49, window: 5s", ["profiling.rate", "profiling.window"]),
        ("source: perf, error-burst: 3", ["profiling.error-burst"]),
    ])
    func profilingLive(setting: String, keys: [String]) throws {
        let plan = try plan(Self.base + "\nprofiling: { \(setting) }\n", from: Self.base + "\nprofiling: { source: perf }\n")
        #expect(plan.changed == keys)
        #expect(plan.steps == [.updateProfiling])
    }

    @Test("the proxy's own settings: each change names the steps that carry it out")
    func dataPlaneSteps() throws {
        #expect(try plan(Self.base + "\n  retries: 0\n").steps == [.reconfigureDataPlane])
        #expect(try plan(Self.base + "\n  passive: { failures: 2 }\n").steps == [.reconfigureDataPlane, .updateHealth])
        #expect(try plan(Self.base + "\n  health: { path: /ready }\n").steps == [.updateHealth])
        #expect(try plan(Self.base + "\nlog: { level: debug }\n").steps == [.setLogging])
        #expect(try plan(Self.base + "\nmonitors:\n  - { name: m, url: http://127.0.0.1:1/ }\n").steps == [.replaceMonitors])
        #expect(try plan(Self.base).steps == [])
    }
}
