import Foundation
import Yams

/// Reads and validates a Tugboat YAML file into a ``TugboatConfig``.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TugboatConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: 0, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(text, file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> TugboatConfig {
        // `${NAME}` holds YAML flow indicators (`{`, `}`), so `{ token: ${T} }` would not parse:
        // swap each reference for a plain placeholder first, and put it back when the scalar is read.
        let (safeText, references) = EnvironmentReferences.shield(text)
        let node: Node?
        do {
            node = try Yams.compose(yaml: safeText)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), message: "not valid YAML: \(Self.describe(error))")
        }
        var config = TugboatConfig()
        guard let node else { return config }
        let root = YAMLValue(node: node, key: "", file: file, environment: environment, references: references)
        let keys = try root.mapping(allowed: ["listen", "admin", "state", "state-tls", "local-state", "node", "pool", "monitors", "alerts", "scaling", "profiling",
                                                 "threads", "max-connections", "trusted-proxies", "tls", "log", "access-log", "retention"])
        if let log = keys["log"] { config.log = try parseLog(log) }
        if let retention = keys["retention"] {
            config.retention = try retention.duration()
            guard config.retention >= .seconds(3600) else { throw retention.error("'retention' must be at least 1h, got \(DurationParser.format(config.retention))") }
        }
        if let accessLog = keys["access-log"] { config.accessLog = try parseAccessLog(accessLog) }
        if let tls = keys["tls"] { config.tls = try parseTLS(tls) }
        if let listen = keys["listen"] { config.listen = try listen.hostPort(allowPortZero: true) }
        if let admin = keys["admin"] { config.admin = try parseAdmin(admin) }
        if let state = keys["state"] {
            config.state = try parseState(state)
            if config.redisURL != nil, config.redisAddress == nil {
                throw state.error("'state' must be redis://[user:password@]host[:port][/db] or rediss://… (the address is not valid)")
            }
        }
        if let stateTLS = keys["state-tls"] {
            guard config.state.hasPrefix("rediss://") else {
                throw stateTLS.error("'state-tls' applies to 'state: rediss://…' (TLS to Redis) only")
            }
            config.stateTLS = try parseStateTLS(stateTLS)
        }
        if let local = keys["local-state"] {
            let text = try local.string()
            guard text.hasPrefix("sqlite:"), text.count > "sqlite:".count else { throw local.error("'local-state' must be sqlite:PATH, got '\(text)'") }
            config.localState = text
        }
        if let node = keys["node"] {
            let name = try node.string()
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw node.error("'node' must be a name of letters, digits, '-', '_' or '.', got '\(name)'")
            }
            config.node = name
        }
        if let threads = keys["threads"] {
            config.threads = (try? threads.string()) == "auto" ? nil : try threads.int(range: 1...256)
        }
        if let max = keys["max-connections"] { config.maxConnections = try max.int(range: 1...10_000_000) }
        if let trusted = keys["trusted-proxies"] {
            config.trustedProxies = try trusted.sequence().map { item in
                let text = try item.string()
                guard let cidr = CIDR(parsing: text) else {
                    throw item.error("'trusted-proxies' entries must be addresses or networks like 10.0.0.0/8, got '\(text)'")
                }
                return cidr
            }
        }
        if let pool = keys["pool"] {
            config.pool = try parsePool(pool)
            config.warnings += try poolWarnings(pool, config.pool)
        }
        if let monitors = keys["monitors"] { config.monitors = try parseMonitors(monitors) }
        if let scaling = keys["scaling"] {
            config.scaling = try parseScaling(scaling)
            config.scaling?.drain = config.pool.drain
            if case .process(_, let ports, _)? = config.scaling?.provider,
               let clash = config.pool.backends.first(where: { ports.contains($0.port) && ["127.0.0.1", "localhost"].contains($0.host) }) {
                throw scaling.error("'scaling.provider.process.ports' includes \(clash), a static backend of 'pool.backends'")
            }
        }
        if config.state == "kubernetes", config.kubernetesLease == nil {
            throw (keys["state"] ?? root).error("'state: kubernetes' needs 'scaling.provider.kubernetes' (the leader Lease lives in its namespace)")
        }
        if let profiling = keys["profiling"] { config.profiling = try parseProfiling(profiling) }
        // Several nodes: Redis is watched like any heartbeat, as the monitor `redis`, so a rule
        // `{ condition: down, monitor: redis }` pages an outage (sent straight away by each node
        // that sees it: no leader can claim pages while Redis is down).
        if let redis = config.redisAddress, !config.monitors.contains(where: { $0.name == "redis" }) {
            var monitor = MonitorConfig(name: "redis", target: .tcp(redis))
            monitor.interval = .seconds(2)
            monitor.timeout = .seconds(1)
            monitor.retries = 1
            config.monitors.append(monitor)
        }
        if let alerts = keys["alerts"] { config.alerts = try parseAlerts(alerts, monitors: config.monitors) }
        if !config.admin.listen.isLoopback && config.admin.token == nil {
            throw (keys["admin"] ?? root).error("'admin.token' is required when 'admin.listen' (\(config.admin.listen)) is beyond this machine: without it anyone who reaches the address could change the pool")
        }
        if config.admin.listen == config.listen && config.listen.port != 0 {
            throw (keys["admin"] ?? root).error("'admin.listen' must differ from 'listen' (\(config.listen))")
        }
        return config
    }

    /// Settings that are allowed but almost certainly not meant.
    static func poolWarnings(_ value: YAMLValue, _ pool: PoolConfig) throws -> [String] {
        let keys = try value.mapping(allowed: ["balance", "backends", "health", "passive", "retries", "timeouts", "drain", "tls", "discover"])
        var warnings: [String] = []
        if let health = keys["health"], pool.health.timeout > pool.health.interval {
            warnings.append("\(health.error("'pool.health.timeout' (\(DurationParser.format(pool.health.timeout))) is longer than 'pool.health.interval' (\(DurationParser.format(pool.health.interval))): a check may still run when the next one is due"))")
        }
        if let timeouts = keys["timeouts"], pool.timeouts.request < pool.timeouts.connect {
            warnings.append("\(timeouts.error("'pool.timeouts.request' (\(DurationParser.format(pool.timeouts.request))) is shorter than 'pool.timeouts.connect' (\(DurationParser.format(pool.timeouts.connect))): a slow connect ends as a 504 before its own timeout"))")
        }
        return warnings
    }

    static func parseLog(_ value: YAMLValue) throws -> LogSettings {
        let keys = try value.mapping(allowed: ["format", "level"])
        var settings = LogSettings()
        if let format = keys["format"] {
            let text = try format.string()
            guard let parsed = LogFormat(rawValue: text) else { throw format.error("'\(format.key)' must be text or json, got '\(text)'") }
            settings.format = parsed
        }
        if let level = keys["level"] {
            let text = try level.string()
            guard let parsed = LogSettings.level(named: text) else {
                throw level.error("'\(level.key)' must be one of \(LogSettings.levelNames), got '\(text)'")
            }
            settings.level = parsed
        }
        return settings
    }

    static func parseAccessLog(_ value: YAMLValue) throws -> AccessLogSettings {
        let keys = try value.mapping(allowed: ["path", "format"])
        guard let pathValue = keys["path"] else {
            throw value.error("'access-log.path' is required (a file, or \"-\" for standard output)")
        }
        let path = try pathValue.string()
        guard !path.isEmpty else { throw pathValue.error("'access-log.path' must not be empty (a file, or \"-\" for standard output)") }
        var settings = AccessLogSettings(path: path)
        settings.pathLine = pathValue.line
        if let format = keys["format"] {
            let text = try format.string()
            guard let parsed = AccessLogFormat(rawValue: text) else {
                throw format.error("'access-log.format' must be combined or json, got '\(text)'")
            }
            settings.format = parsed
        }
        return settings
    }

    static func parseAdmin(_ value: YAMLValue) throws -> AdminConfig {
        var admin = AdminConfig()
        let keys = try value.mapping(allowed: ["listen", "token", "url"])
        if let listen = keys["listen"] { admin.listen = try listen.hostPort(allowPortZero: true) }
        if let url = keys["url"] {
            let text = try url.string()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw url.error("'admin.url' must start with http:// or https://, got '\(text)'")
            }
            admin.url = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        if let token = keys["token"] {
            let text = try token.string()
            admin.token = text.isEmpty ? nil : Secret(text)
        }
        return admin
    }

    static func parseState(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        guard text.hasPrefix("sqlite:") || text.hasPrefix("redis://") || text.hasPrefix("rediss://") || text == "kubernetes" else {
            throw value.error("'state' must be sqlite:PATH, redis://HOST:PORT/DB (rediss:// for TLS) or kubernetes, got '\(text)'")
        }
        return text
    }

    static func parsePool(_ value: YAMLValue) throws -> PoolConfig {
        var pool = PoolConfig()
        let keys = try value.mapping(allowed: ["balance", "backends", "health", "passive", "retries", "timeouts", "drain", "tls", "discover"])
        if let tls = keys["tls"] { pool.tls = try parseBackendTLS(tls) }
        if let balance = keys["balance"] {
            let text = try balance.string()
            guard let algorithm = BalanceAlgorithm(rawValue: text) else {
                throw balance.error("'pool.balance' must be one of round-robin, least-request, got '\(text)'")
            }
            pool.balance = algorithm
        }
        if let backends = keys["backends"] {
            var seen = Set<HostPort>()
            for item in try backends.sequence() {
                let address = try item.hostPort()
                guard seen.insert(address).inserted else { throw item.error("'pool.backends' lists \(address) twice") }
                pool.backends.append(address)
            }
        }
        if let health = keys["health"] { pool.health = try parseHealth(health) }
        if let passive = keys["passive"] { pool.passive = try parsePassive(passive) }
        if let retries = keys["retries"] { pool.retries = try retries.int(range: 0...10) }
        if let timeouts = keys["timeouts"] { pool.timeouts = try parseTimeouts(timeouts) }
        if let drain = keys["drain"] { pool.drain = try drain.duration(allowZero: true) }
        if let discover = keys["discover"] { pool.discover = try parseDiscover(discover) }
        return pool
    }

    static func parseHealth(_ value: YAMLValue) throws -> HealthCheckConfig {
        var health = HealthCheckConfig()
        let keys = try value.mapping(allowed: ["path", "interval", "timeout", "rise", "fall"])
        if let path = keys["path"] {
            let text = try path.string()
            if text.isEmpty || text == "null" {
                health.path = nil
            } else {
                guard text.hasPrefix("/"), !text.contains(" ") else {
                    throw path.error("'pool.health.path' must start with '/' and contain no spaces, got '\(text)'")
                }
                health.path = text
            }
        }
        if let interval = keys["interval"] { health.interval = try interval.duration() }
        if let timeout = keys["timeout"] { health.timeout = try timeout.duration() }
        if let rise = keys["rise"] { health.rise = try rise.int(range: 1...100) }
        if let fall = keys["fall"] { health.fall = try fall.int(range: 1...100) }
        return health
    }

    static func parsePassive(_ value: YAMLValue) throws -> PassiveHealthConfig {
        var passive = PassiveHealthConfig()
        let keys = try value.mapping(allowed: ["failures", "ejection"])
        if let failures = keys["failures"] { passive.failures = try failures.int(range: 0...1000) }
        if let ejection = keys["ejection"] {
            passive.ejection = try ejection.duration()
            if passive.ejection > passive.maxEjection { passive.maxEjection = passive.ejection }
        }
        return passive
    }

    static func parseTimeouts(_ value: YAMLValue) throws -> TimeoutConfig {
        var timeouts = TimeoutConfig()
        let keys = try value.mapping(allowed: ["connect", "header", "request", "idle"])
        if let connect = keys["connect"] { timeouts.connect = try connect.duration() }
        if let header = keys["header"] { timeouts.header = try header.duration() }
        if let request = keys["request"] { timeouts.request = try request.duration() }
        if let idle = keys["idle"] { timeouts.idle = try idle.duration() }
        return timeouts
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return 1
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default:
            return "\(error)"
        }
    }
}
