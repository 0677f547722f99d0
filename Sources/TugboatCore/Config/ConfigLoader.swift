import Foundation
import Yams

/// The loader's machinery: the YAML document with its lines (``YAMLValue``), and the parsers of
/// the sections Core owns (`listen`, `admin`, `state`, `pool`, `log`, `access-log`). Each feature
/// module extends it with the parser of its own section (`ConfigLoader+Alerts.swift` in
/// TugboatAlerts, …); TugboatRuntime's `ConfigLoader.parse` assembles the whole file.
package enum ConfigLoader {
    /// The file's text; a file that cannot be read is a ``ConfigError`` at line 0.
    package static func read(path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: 0, message: "cannot read the file: \(error.localizedDescription)")
        }
    }

    /// The document's root, or nil for an empty file. `${NAME}` holds YAML flow indicators (`{`,
    /// `}`), so `{ token: ${T} }` would not parse: each reference is swapped for a plain
    /// placeholder first, and put back when the scalar is read.
    package static func document(_ text: String, file: String, environment: [String: String]) throws -> YAMLValue? {
        let (safeText, references) = EnvironmentReferences.shield(text)
        let node: Node?
        do {
            node = try Yams.compose(yaml: safeText)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), message: "not valid YAML: \(Self.describe(error))")
        }
        guard let node else { return nil }
        return YAMLValue(node: node, key: "", file: file, environment: environment, references: references)
    }

    /// Settings that are allowed but almost certainly not meant.
    package static func poolWarnings(_ value: YAMLValue, _ pool: PoolConfig) throws -> [String] {
        let keys = try value.mapping(allowed: PoolConfig.keys)
        var warnings: [String] = []
        if let health = keys["health"], pool.health.timeout > pool.health.interval {
            warnings.append("\(health.error("'pool.health.timeout' (\(DurationParser.format(pool.health.timeout))) is longer than 'pool.health.interval' (\(DurationParser.format(pool.health.interval))): a check may still run when the next one is due"))")
        }
        if let timeouts = keys["timeouts"], pool.timeouts.request < pool.timeouts.connect {
            warnings.append("\(timeouts.error("'pool.timeouts.request' (\(DurationParser.format(pool.timeouts.request))) is shorter than 'pool.timeouts.connect' (\(DurationParser.format(pool.timeouts.connect))): a slow connect ends as a 504 before its own timeout"))")
        }
        return warnings
    }

    package static func parseLog(_ value: YAMLValue) throws -> LogSettings {
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

    package static func parseAccessLog(_ value: YAMLValue) throws -> AccessLogSettings {
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

    package static func parseAdmin(_ value: YAMLValue) throws -> AdminConfig {
        var admin = AdminConfig()
        let keys = try value.mapping(allowed: ["listen", "token", "url", "tls"])
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
        if let tls = keys["tls"] { admin.tls = try parseAdminTLS(tls) }
        return admin
    }

    /// `admin.tls`: certificate files only (no ACME, no redirect: the admin listener is for people
    /// and tools that are told its address).
    package static func parseAdminTLS(_ value: YAMLValue) throws -> AdminTLSSettings {
        let keys = try value.mapping(allowed: ["certificates"])
        guard let list = keys["certificates"] else {
            throw value.error("'\(value.key)' needs 'certificates' (a list of { cert, key } PEM files)")
        }
        let directory = (value.file as NSString).deletingLastPathComponent
        return AdminTLSSettings(certificates: try parseCertificateList(list, relativeTo: directory))
    }

    package static func parseState(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        guard text.hasPrefix("sqlite:") || text.hasPrefix("redis://") || text.hasPrefix("rediss://") || text == "kubernetes" else {
            throw value.error("'state' must be sqlite:PATH, redis://HOST:PORT/DB (rediss:// for TLS) or kubernetes, got '\(text)'")
        }
        return text
    }

    /// `pool:` but its `discover`, which TugboatScaling's `parseDiscover` reads (into `TugboatConfig.poolDiscover`).
    package static func parsePool(_ value: YAMLValue) throws -> PoolConfig {
        var pool = PoolConfig()
        let keys = try value.mapping(allowed: PoolConfig.keys)
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
        return pool
    }

    package static func parseHealth(_ value: YAMLValue) throws -> HealthCheckConfig {
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

    package static func parsePassive(_ value: YAMLValue) throws -> PassiveHealthConfig {
        var passive = PassiveHealthConfig()
        let keys = try value.mapping(allowed: ["failures", "ejection"])
        if let failures = keys["failures"] { passive.failures = try failures.int(range: 0...1000) }
        if let ejection = keys["ejection"] {
            passive.ejection = try ejection.duration()
            if passive.ejection > passive.maxEjection { passive.maxEjection = passive.ejection }
        }
        return passive
    }

    package static func parseTimeouts(_ value: YAMLValue) throws -> TimeoutConfig {
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
