import Testing
@testable import TugboatCore
@testable import TugboatRuntime
import TugboatScaling
import Yams

@Suite("Scaling config")
struct ScalingConfigTests {
    func parse(_ yaml: String) throws -> ScalingSettings {
        let node = try #require(try Yams.compose(yaml: yaml))
        return try ConfigLoader.parseScaling(YAMLValue(node: node, key: "scaling", file: "t.yaml", environment: [:]))
    }

    @Test("the three providers and both modes parse")
    func providers() throws {
        let process = try parse("provider: { process: { command: \"python3 app.py --port {port}\", ports: 9100-9199 } }\nmin: 0\nmax: 4\ntarget-rps: 50\nstabilize-down: 1m")
        #expect(process.provider == .process(command: "python3 app.py --port {port}", ports: 9100...9199))
        #expect(process.min == 0 && process.max == 4)
        #expect(process.mode == .targetTracking(targetRPS: 50))
        #expect(process.stabilizeDown == .seconds(60))
        #expect(process.targetInflight == nil)
        let slow = try parse("provider: { docker: { image: web:1, port: 80 } }\ntarget-rps: 50\ntarget-inflight: 8")
        #expect(slow.targetInflight == 8)
        let exec = try parse("provider: { exec: { up: ./scale_up.sh, down: ./scale_down.sh } }\nup-rps: 100\ndown-rps: 20")
        #expect(exec.provider == .exec(up: "./scale_up.sh", down: "./scale_down.sh", timeout: .seconds(300)))
        #expect(exec.mode == .thresholds(upRPS: 100, downRPS: 20))
        let docker = try parse("provider: { docker: { image: web:1, port: 80 } }")
        #expect(docker.provider == .docker(image: "web:1", port: 80, socket: "/var/run/docker.sock"))
    }

    @Test("mistakes name the line and key", arguments: [
        ("min: 1\n", "t.yaml:1: 'scaling.provider' is required"),
        ("provider: { process: { command: app, ports: 9100-9199 } }\n", "t.yaml:1: 'scaling.provider.process.command' must contain {port}"),
        ("provider: { process: { command: \"a {port}\", ports: 9199-9100 } }\n", "t.yaml:1: 'scaling.provider.process.ports' must be a port range"),
        ("provider: { docker: { image: x, port: 80 } }\nmin: 5\nmax: 2\n", "t.yaml:3: 'scaling.max' (2) must not be below 'scaling.min' (5)"),
        ("provider: { docker: { image: x, port: 80 } }\nup-rps: 10\n", "t.yaml:1: 'scaling' takes either 'target-rps', or both 'up-rps' and 'down-rps'"),
        ("provider: { docker: { image: x, port: 80 } }\ntarget-inflight: 0\n", "t.yaml:2: 'scaling.target-inflight'"),
        ("provider: { docker: { image: x, port: 80 } }\nup-rps: 10\ndown-rps: 20\n", "t.yaml:3: 'scaling.down-rps' must be below 'scaling.up-rps'"),
    ])
    func errors(yaml: String, expected: String) {
        expectConfigError(expected) { try parse(yaml) }
    }
}
