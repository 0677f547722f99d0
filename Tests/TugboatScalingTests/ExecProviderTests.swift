import Foundation
import Logging
import Testing
import TugboatCore
@testable import TugboatScaling

/// The exec provider with the sample scripts of examples/ and with failing scripts.
@Suite(.serialized)
struct ExecProviderTests {
    let logger = Logger(label: "test.scaling.exec")

    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-scaling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func sampleScriptsStartAndStopADemoApp() async throws {
        let state = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let examples = repositoryRoot.appendingPathComponent("examples").path
        let provider = ExecProvider(
            up: "\(examples)/scale_up.sh", down: "\(examples)/scale_down.sh", timeout: .seconds(30),
            environment: ["TUGBOAT_BIN": tugboatExecutable, "TUGBOAT_SCALE_DIR": state.path], logger: logger)
        let instance = try await provider.launch()
        #expect(instance.address.host == "127.0.0.1")
        #expect(instance.providerID == instance.address.description)
        try await waitUntil("\(instance.address) healthy") { httpStatus(port: instance.address.port, "/health") == 200 }
        #expect(try await provider.list() == [instance])
        let pidFile = state.appendingPathComponent("\(instance.address).pid").path
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        do {
            try await provider.stop(instance)
        } catch {
            kill(pid, SIGKILL)
            throw error
        }
        #expect(!processAlive(pid))
        #expect(httpStatus(port: instance.address.port, "/health") == nil)
        #expect(!FileManager.default.fileExists(atPath: pidFile))
        #expect(try await provider.list().isEmpty)
        try await provider.stop(instance)  // already gone: the sample script succeeds
    }

    @Test func downGetsTheAddressAsArgumentAndInTheEnvironment() async throws {
        let state = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let out = state.appendingPathComponent("down").path
        let provider = ExecProvider(
            up: "echo provisioning; echo; echo ' 10.0.0.7:8080 '; echo", down: "echo \"$TUGBOAT_ACTION $TUGBOAT_INSTANCE $1\" > \(out); true",
            timeout: .seconds(10), logger: logger)
        let instance = try await provider.launch()
        #expect(instance.address == HostPort(host: "10.0.0.7", port: 8080))
        try await provider.stop(instance)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "down 10.0.0.7:8080 10.0.0.7:8080\n")
    }

    @Test func failuresAreReported() async throws {
        let cases: [(up: String, expected: String)] = [
            ("echo 127.0.0.1:9000; echo 'playbook failed' >&2; exit 3", "exited with status 3: playbook failed"),
            ("echo 'all done'", "no host:port"),
            ("echo 127.0.0.1:99999", "no host:port"),
            ("exec sleep 30", "timed out"),
        ]
        for (up, expected) in cases {
            let provider = ExecProvider(up: up, down: "true", timeout: .milliseconds(500), logger: logger)
            do {
                _ = try await provider.launch()
                Issue.record("launch should fail for \(up)")
            } catch let error as ProviderError {
                #expect(error.message.contains(expected), "\(error.message)")
            }
            #expect(try await provider.list().isEmpty)
        }
        let provider = ExecProvider(up: "true", down: "exit 4", timeout: .seconds(5), logger: logger)
        await #expect(throws: ProviderError.self) {
            try await provider.stop(ScalingInstance(providerID: "x", address: HostPort(host: "127.0.0.1", port: 1)))
        }
    }

    @Test func aLongErrorLineKeepsItsCause() async throws {
        // Ansible's message with Docker's inside it: the cause is at the end of a long line.
        let line = "scale_up.yml: Start the container: Error starting container: driver failed programming external "
            + "connectivity on endpoint tugboat-web-28jgb3is (\(String(repeating: "5", count: 64))): Error starting "
            + "userland proxy: listen tcp4 127.0.0.1:31999: bind: address already in use"
        let provider = ExecProvider(up: "echo 'ansible output' >&2; echo '\(line)' >&2; exit 1", down: "true",
                                    timeout: .seconds(10), logger: logger)
        do {
            _ = try await provider.launch()
            Issue.record("launch should fail")
        } catch let error as ProviderError {
            #expect(error.message == "up script exited with status 1: \(line)")
        }
    }

    @Test func aTimedOutScriptIsKilledWithItsChildren() async throws {
        let state = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let file = state.appendingPathComponent("child").path
        let provider = ExecProvider(up: "sleep 300 & echo $! > \(file); wait", down: "true", timeout: .milliseconds(500), logger: logger)
        await #expect(throws: ProviderError.self) { _ = try await provider.launch() }
        let child = Int32(try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        try await waitUntil("the script's child to be killed", timeout: .seconds(5)) { !processAlive(child) }
    }
}
