import Foundation
import TestSupport
import Testing
import Yams
@testable import TugboatCore

/// What every child gets from Tugboat (issue 15), and the `env:` keys that add to it.
@Suite("Child environment and descriptors", .serialized)
struct ChildEnvironmentTests {
    @Test("only the allow-list is passed on; the config's env is added on top")
    func allowList() {
        let parent = ["PATH": "/usr/bin", "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC", "TMPDIR": "/var/tmp",
                      "TUGBOAT_ADMIN_TOKEN": "secret", "TWILIO_AUTH_TOKEN": "secret", "AWS_SECRET_ACCESS_KEY": "secret", "USER": "root"]
        let child = ChildEnvironment.make(parent: parent, adding: ["APP_MODE": "prod", "PATH": "/opt/app/bin"])
        #expect(child == ["PATH": "/opt/app/bin", "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC", "TMPDIR": "/var/tmp",
                          "APP_MODE": "prod"])
    }

    @Test("a child started through the /proc/self/fd fallback holds no descriptor beyond 0-2 either")
    func fallbackWithoutCloseRange() async throws {
        let ours = ChildInspection.openInheritableSockets()
        defer { ChildInspection.closeAll(ours) }
        ProcessSpawner.skipCloseRange(true)
        defer { ProcessSpawner.skipCloseRange(false) }
        let pid = try ProcessSpawner.spawn(["/bin/sleep", "30"], diesWithTugboat: true)
        defer {
            kill(pid, SIGKILL)
            _ = ChildExit.reap(pid)
        }
        try await waitUntil("the child to exec sleep") { ChildInspection.program(pid: pid) == "/bin/sleep" }
        let descriptors = await ChildInspection.settledDescriptors(pid: pid)
        #expect(descriptors.keys.allSatisfy { $0 <= 2 }, "descriptors beyond 0-2: \(descriptors)")
        #expect(ChildInspection.sockets(descriptors.values).isDisjoint(with: ChildInspection.ownSockets))
    }

    @Test("env: parses for the process and exec providers and the command channel")
    func configKeys() throws {
        func parse(_ yaml: String) throws -> TugboatConfig { try ConfigLoader.parse(yaml, file: "t.yaml") }
        let process = try parse("scaling:\n  provider: { process: { command: \"app {port}\", ports: 9100-9110, env: { APP_MODE: prod, WORKERS: 4 } } }\n")
        #expect(process.scaling?.provider == .process(command: "app {port}", ports: 9100...9110, env: ["APP_MODE": "prod", "WORKERS": "4"]))
        let exec = try parse("scaling:\n  provider: { exec: { up: ./up.sh, down: ./down.sh, env: { REGION: eu } } }\n")
        #expect(exec.scaling?.provider == .exec(up: "./up.sh", down: "./down.sh", timeout: .seconds(300), env: ["REGION": "eu"]))
        let channel = try parse("alerts:\n  channels:\n    run: { command: { run: [/usr/local/bin/notify], env: { TEAM: infra } } }\n")
        #expect(channel.alerts.channels["run"] == .command(["/usr/local/bin/notify"], env: ["TEAM": "infra"]))
        expectConfigError("t.yaml:2: 'scaling.provider.process.env': '1BAD' is not an environment variable name") {
            try parse("scaling:\n  provider: { process: { command: \"app {port}\", ports: 9100-9110, env: { 1BAD: x } } }\n")
        }
    }

    @Test("sizes parse with units and name the key when wrong")
    func sizes() throws {
        func parse(_ yaml: String) throws -> TugboatConfig { try ConfigLoader.parse(yaml, file: "t.yaml") }
        let profiling = try parse("profiling: { source: push, max-body: 2MiB, max-decompressed: 1GiB }\n").profiling
        #expect(profiling?.maxBody == 2 << 20)
        #expect(profiling?.maxDecompressed == 1 << 30)
        #expect(try parse("profiling: { source: push }\n").profiling?.maxDecompressed == 64 << 20)
        expectConfigError("t.yaml:1: 'profiling.max-body' must be a size like 512KiB") {
            try parse("profiling: { source: push, max-body: lots }\n")
        }
        expectConfigError("t.yaml:1: 'profiling.max-decompressed' must be between") {
            try parse("profiling: { source: push, max-decompressed: 10 }\n")
        }
    }
}
