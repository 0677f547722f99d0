import Foundation
import TugboatAlerts
import TugboatCapture
import TugboatCore
import TugboatProxy
import TugboatRedis
import TugboatScaling

/// Reads and validates a Tugboat YAML file into a ``TugboatConfig``: Core's machinery reads the
/// document, each section's parser (in Core or in its feature's module) reads its section, and
/// this puts them together and checks what spans sections.
extension ConfigLoader {
    package static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TugboatConfig {
        try parse(try read(path: path), file: path, environment: environment)
    }

    package static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> TugboatConfig {
        var config = TugboatConfig()
        guard let root = try document(text, file: file, environment: environment) else { return config }
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
            if let discover = try pool.mapping(allowed: PoolConfig.keys)["discover"] { config.poolDiscover = try parseDiscover(discover) }
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
        if config.tls?.acme?.challenge == .tlsALPN01, config.redisURL != nil {
            // The CA may reach any node; only HTTP-01 answers are shared through Redis.
            throw (keys["tls"] ?? root).error("'tls.acme.challenge: tls-alpn-01' works with one node; with 'state: redis://' use http-01 (its answers are shared by every node)")
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

}
