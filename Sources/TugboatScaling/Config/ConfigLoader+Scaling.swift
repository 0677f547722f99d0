import TugboatCore

// Parsing of `scaling:`.
extension ConfigLoader {
    package static func parseScaling(_ value: YAMLValue) throws -> ScalingSettings {
        let keys = try value.mapping(allowed: [
            "provider", "min", "max", "target-rps", "target-inflight", "up-rps", "down-rps", "window", "cooldown-up",
            "stabilize-down", "panic-window", "idle-to-zero", "start-timeout",
        ])
        guard let providerValue = keys["provider"] else { throw value.error("'scaling.provider' is required (process, exec, docker or kubernetes)") }
        var scaling = ScalingSettings(provider: try parseProvider(providerValue))
        if let min = keys["min"] { scaling.min = try min.int(range: 0...1000) }
        if let max = keys["max"] { scaling.max = try max.int(range: 1...1000) }
        if scaling.max < scaling.min { throw (keys["max"] ?? value).error("'scaling.max' (\(scaling.max)) must not be below 'scaling.min' (\(scaling.min))") }
        switch (keys["target-rps"], keys["up-rps"], keys["down-rps"]) {
        case (let target?, nil, nil):
            let rps = try target.number(range: 0.001...1e9)
            scaling.mode = .targetTracking(targetRPS: rps)
        case (nil, let up?, let down?):
            let upRPS = try up.number(range: 0.001...1e9), downRPS = try down.number(range: 0...1e9)
            guard downRPS < upRPS else { throw down.error("'scaling.down-rps' must be below 'scaling.up-rps'") }
            scaling.mode = .thresholds(upRPS: upRPS, downRPS: downRPS)
        case (nil, nil, nil):
            break
        default:
            throw value.error("'scaling' takes either 'target-rps', or both 'up-rps' and 'down-rps'")
        }
        if let inflight = keys["target-inflight"] { scaling.targetInflight = try inflight.number(range: 0.001...1e9) }
        if let window = keys["window"] { scaling.window = try window.duration() }
        if let cooldown = keys["cooldown-up"] { scaling.cooldownUp = try cooldown.duration(allowZero: true) }
        if let stabilize = keys["stabilize-down"] { scaling.stabilizeDown = try stabilize.duration(allowZero: true) }
        if let panic = keys["panic-window"] { scaling.panicWindow = try panic.duration() }
        if scaling.panicWindow > scaling.window {
            throw (keys["panic-window"] ?? keys["window"] ?? value).error("'scaling.panic-window' must not be longer than 'scaling.window'")
        }
        if let idle = keys["idle-to-zero"] { scaling.idleToZero = try idle.duration() }
        if let start = keys["start-timeout"] { scaling.startTimeout = try start.duration() }
        return scaling
    }

    private static func parseProvider(_ value: YAMLValue) throws -> ScalingSettings.Provider {
        let keys = try value.mapping(allowed: ["process", "exec", "docker", "kubernetes"])
        guard keys.count == 1, let (kind, body) = keys.first else {
            throw value.error("'scaling.provider' needs exactly one of: process, exec, docker, kubernetes")
        }
        switch kind {
        case "process":
            let fields = try body.mapping(allowed: ["command", "ports", "env"])
            guard let command = fields["command"], let ports = fields["ports"] else {
                throw body.error("'scaling.provider.process' needs 'command' and 'ports' (like 9100-9199)")
            }
            let text = try command.string()
            guard text.contains("{port}") else { throw command.error("'\(command.key)' must contain {port}") }
            let range = try ports.string().split(separator: "-").compactMap { Int(String($0).trimmingCharacters(in: " ")) }
            guard range.count == 2, range[0] >= 1, range[0] <= range[1], range[1] <= 65535 else {
                throw ports.error("'\(ports.key)' must be a port range like 9100-9199")
            }
            return .process(command: text, ports: range[0]...range[1], env: try fields["env"].map(parseEnvironment) ?? [:])
        case "exec":
            let fields = try body.mapping(allowed: ["up", "down", "timeout", "env"])
            guard let up = fields["up"], let down = fields["down"] else { throw body.error("'scaling.provider.exec' needs 'up' and 'down'") }
            return .exec(up: try up.string(), down: try down.string(), timeout: try fields["timeout"]?.duration() ?? .seconds(300),
                         env: try fields["env"].map(parseEnvironment) ?? [:])
        case "kubernetes":
            return .kubernetes(try parseKubernetes(body, scaling: true))
        default:
            let fields = try body.mapping(allowed: ["image", "port", "socket"])
            guard let image = fields["image"], let port = fields["port"] else { throw body.error("'scaling.provider.docker' needs 'image' and 'port'") }
            return .docker(image: try image.string(), port: try port.int(range: 1...65535),
                           socket: try fields["socket"]?.string() ?? "/var/run/docker.sock")
        }
    }
}
