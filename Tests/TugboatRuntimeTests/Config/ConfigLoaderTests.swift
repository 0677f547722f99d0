import TestSupport
import Testing
import TugboatAlerts
import TugboatCapture
@testable import TugboatCore
@testable import TugboatRuntime
import TugboatScaling

@Suite("Config loading and validation")
struct ConfigLoaderTests {
    func load(_ yaml: String, env: [String: String] = [:]) throws -> TugboatConfig {
        try ConfigLoader.parse(yaml, file: "t.yaml", environment: env)
    }

    func error(_ yaml: String, env: [String: String] = [:]) -> String {
        do {
            _ = try load(yaml, env: env)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("the DESIGN.md example keys parse, with durations and env interpolation")
    func fullExample() throws {
        let config = try load("""
        listen: 127.0.0.1:8080
        admin: { listen: 127.0.0.1:8081, token: ${TUGBOAT_ADMIN_TOKEN} }
        state: sqlite:./tugboat.db
        pool:
          balance: least-request
          backends: [127.0.0.1:9001, "127.0.0.1:9002"]
          health: { path: /healthz, interval: 500ms, timeout: 250ms, rise: 3, fall: 4 }
          passive: { failures: 7, ejection: 1m }
          retries: 1
          timeouts: { connect: 1s, header: 5s, request: 2m, idle: 1m30s }
          drain: 0s
        """, env: ["TUGBOAT_ADMIN_TOKEN": "tok"])
        #expect(config.listen == HostPort(host: "127.0.0.1", port: 8080))
        #expect(config.admin.token?.value == "tok")
        #expect(config.pool.balance == .leastRequest)
        #expect(config.pool.backends.map(\.description) == ["127.0.0.1:9001", "127.0.0.1:9002"])
        #expect(config.pool.health.path == "/healthz")
        #expect(config.pool.health.interval == .milliseconds(500))
        #expect(config.pool.health.rise == 3 && config.pool.health.fall == 4)
        #expect(config.pool.passive.failures == 7 && config.pool.passive.ejection == .seconds(60))
        #expect(config.pool.timeouts.request == .seconds(120))
        #expect(config.pool.timeouts.idle == .seconds(90))
        #expect(config.pool.drain == .zero)
    }

    @Test("likely mistakes are warnings at FILE:LINE: a health timeout longer than its interval, a request timeout shorter than connect; an empty variable is 'empty', not 'not set'")
    func warnings() throws {
        #expect(try load("").warnings.isEmpty)
        let pool = try load("pool:\n  health: { interval: 1s, timeout: 2s }\n  timeouts: { connect: 5s, request: 1s }\n")
        #expect(pool.warnings.count == 2)
        #expect(pool.warnings.first?.hasPrefix("t.yaml:2: 'pool.health.timeout' (2s) is longer than 'pool.health.interval' (1s)") == true, "\(pool.warnings)")
        #expect(pool.warnings.last?.hasPrefix("t.yaml:3: 'pool.timeouts.request' (1s) is shorter than 'pool.timeouts.connect' (5s)") == true, "\(pool.warnings)")
        #expect(try load("admin: { listen: 0.0.0.0:8081, token: t0ken }\n").warnings.isEmpty)
        #expect(error("admin: { token: ${EMPTY_TOKEN} }\n", env: ["EMPTY_TOKEN": ""]).hasPrefix("t.yaml:1: 'admin.token': environment variable EMPTY_TOKEN is empty"))
    }

    @Test("an admin API beyond loopback without a token is an error naming FILE:LINE and the key")
    func adminTokenRequired() throws {
        #expect(error("listen: 127.0.0.1:8080\nadmin: { listen: 0.0.0.0:8081 }\n")
                    .hasPrefix("t.yaml:2: 'admin.token' is required when 'admin.listen' (0.0.0.0:8081) is beyond this machine"))
        #expect(error("admin: { listen: \"[::]:8081\", token: \"${T:-}\" }\n").contains("'admin.token' is required"))
        #expect(try load("admin: { listen: \"[::1]:8081\" }\n").admin.token == nil)
    }

    @Test("retention (default 90 days, at least 1h) and profiling.link-expiry (default 24h)")
    func retentionAndLinkExpiry() throws {
        #expect(try load("").retention == .seconds(90 * 86_400))
        #expect(try load("retention: 30d\n").retention == .seconds(30 * 86_400))
        #expect(error("retention: 10m\n").hasPrefix("t.yaml:1: 'retention' must be at least 1h"))
        #expect(try load("profiling: { source: push }\n").profiling?.linkExpiry == .seconds(86_400))
        #expect(try load("profiling: { source: push, link-expiry: 0s }\n").profiling?.linkExpiry == .zero)
    }

    @Test("an empty file gives the defaults")
    func defaults() throws {
        #expect(try load("") == TugboatConfig())
    }

    @Test("errors name file, line and key", arguments: [
        ("listen: 127.0.0.1:8080\npool:\n  balanse: round-robin\n", "t.yaml:3: unknown key 'pool.balanse'"),
        ("pool:\n  backends: [127.0.0.1:9001, nothost]\n", "t.yaml:2: 'pool.backends[1]' must be an address host:port"),
        ("pool:\n  backends: [127.0.0.1:70000]\n", "t.yaml:2: 'pool.backends[0]' must be an address host:port with a port from 1 to 65535"),
        ("pool:\n  health:\n    rise: 0\n", "t.yaml:3: 'pool.health.rise' must be between 1 and 100, got 0"),
        ("pool:\n  health:\n    interval: soon\n", "t.yaml:3: 'pool.health.interval' must be a duration like 500ms, 2s or 5m, at most 3650d, got 'soon'"),
        ("pool:\n  health:\n    interval: 99999999999999d\n", "t.yaml:3: 'pool.health.interval' must be a duration like 500ms, 2s or 5m, at most 3650d, got '99999999999999d'"),
        ("pool:\n  retries: many\n", "t.yaml:2: 'pool.retries' must be a whole number, got 'many'"),
        ("pool:\n  timeouts: { connect: 0s }\n", "t.yaml:2: 'pool.timeouts.connect' must be longer than 0s"),
        ("pool:\n  balance: random\n", "t.yaml:2: 'pool.balance' must be one of round-robin, least-request, got 'random'"),
        ("pool:\n  backends: [127.0.0.1:1, 127.0.0.1:1]\n", "t.yaml:2: 'pool.backends' lists 127.0.0.1:1 twice"),
        ("pool: [1, 2]\n", "t.yaml:1: 'pool' must be a mapping"),
        ("admin: { token: ${MISSING_TOKEN} }\n", "t.yaml:1: 'admin.token': environment variable MISSING_TOKEN is not set"),
        ("state: postgres://x\n", "t.yaml:1: 'state' must be sqlite:PATH, redis://HOST:PORT/DB (rediss:// for TLS) or kubernetes"),
        ("state: redis://:secret@host:99999/0\n", "t.yaml:1: 'state' must be redis://[user:password@]host[:port][/db]"),
        ("local-state: postgres://x\n", "t.yaml:1: 'local-state' must be sqlite:PATH"),
        ("node: \"a b\"\n", "t.yaml:1: 'node' must be a name of letters"),
        ("listen: [oops\n", "t.yaml:2: not valid YAML"),
        ("\n\nprofiling: { source: gdb }\n", "t.yaml:3: 'profiling.source' must be perf, py-spy, pprof-url or push, got 'gdb'"),
        ("profiling: { rate: 99 }\n", "t.yaml:1: 'profiling.source' is required"),
        ("profiling:\n  source: perf\n  window: 1h\n", "t.yaml:3: 'profiling.window' must be between 1s and 10m"),
        ("admin: { url: ops.example.com }\n", "t.yaml:1: 'admin.url' must start with http:// or https://"),
        ("scaling: { min: 1 }\n", "t.yaml:1: 'scaling.provider' is required"),
    ])
    func errors(yaml: String, expected: String) {
        let message = error(yaml)
        #expect(message.hasPrefix(expected), "got: \(message)")
    }

    @Test("secrets never print")
    func secretRedacted() throws {
        let config = try load("admin: { token: ${T} }", env: ["T": "hunter2"])
        #expect(!"\(config)".contains("hunter2"))
        #expect(!String(reflecting: config).contains("hunter2"))
    }

    @Test("${NAME:-default} falls back when unset")
    func envDefault() throws {
        let config = try load("listen: ${HOST:-127.0.0.1}:${PORT:-9999}")
        #expect(config.listen.port == 9999)
    }
}

@Suite("Durations and addresses")
struct DurationAndAddressTests {
    @Test func durations() {
        #expect(DurationParser.parse("500ms") == .milliseconds(500))
        #expect(DurationParser.parse("2s") == .seconds(2))
        #expect(DurationParser.parse("5m") == .seconds(300))
        #expect(DurationParser.parse("1h30m") == .seconds(5400))
        #expect(DurationParser.parse("1.5s") == .milliseconds(1500))
        #expect(DurationParser.parse("5") == nil)
        #expect(DurationParser.parse("s") == nil)
        #expect(DurationParser.parse("-1s") == nil)
        #expect(DurationParser.format(.milliseconds(250)) == "250ms")
        #expect(DurationParser.format(.seconds(120)) == "2m")
    }

    @Test func addresses() {
        #expect(HostPort(parsing: "127.0.0.1:80")?.port == 80)
        #expect(HostPort(parsing: "[::1]:8080")?.host == "::1")
        #expect(HostPort(parsing: "app.local:8080")?.host == "app.local")
        #expect(HostPort(parsing: "::1:80") == nil)
        #expect(HostPort(parsing: "127.0.0.1") == nil)
        #expect(HostPort(parsing: "127.0.0.1:0") == nil)
        #expect(HostPort(parsing: "127.0.0.1:0", allowPortZero: true)?.port == 0)
        #expect(HostPort(parsing: "a b:1") == nil)
    }
}
