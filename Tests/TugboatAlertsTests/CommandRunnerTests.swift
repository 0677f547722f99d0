import Foundation
import Synchronization
import TestSupport
import Testing
@testable import TugboatAlerts

/// The `command` channel's runner (issue 15): a clean child, and a timeout that covers the
/// child's whole life and kills its whole process group.
@Suite(.serialized)
struct CommandRunnerTests {
    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func theCommandHoldsNoSocketAndNoSecretOfTugboats() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = directory.appendingPathComponent("report").path
        let ours = ChildInspection.openInheritableSockets()
        defer { ChildInspection.closeAll(ours) }
        let ourSockets = ChildInspection.ownSockets
        // The subshell lists its parent's descriptors (a redirection of the shell's own would add one).
        try await ChildInspection.withSecretsInEnvironment {
            let status = try await ProcessRunner.run(["/bin/sh", "-c", "(ls -l /proc/$$/fd; env) > \(report); cat > /dev/null"],
                                                     environment: ["ONCALL_TEAM": "infra"], stdin: Data("{}".utf8), timeout: .seconds(10))
            #expect(status == 0)
        }
        let lines = try String(contentsOfFile: report, encoding: .utf8).split(separator: "\n").map(String.init)
        let descriptors = lines.filter { $0.contains(" -> ") }
        #expect(!descriptors.isEmpty)
        let targets = descriptors.map { String($0[$0.range(of: " -> ")!.upperBound...]) }
        #expect(ChildInspection.sockets(targets).isDisjoint(with: ourSockets), "inherited: \(descriptors)")
        let numbers = descriptors.compactMap { $0[..<$0.range(of: " -> ")!.lowerBound].split(separator: " ").last.flatMap { Int($0) } }
        #expect(numbers.count == descriptors.count && numbers.allSatisfy { $0 <= 2 }, "descriptors beyond 0-2: \(descriptors)")
        let environment = ChildInspection.parseEnvironment(lines.filter { !$0.contains(" -> ") })
        for (name, secret) in ChildInspection.secrets {
            #expect(environment[name] == nil)
            #expect(!lines.contains { $0.contains(secret) })
        }
        #expect(environment["ONCALL_TEAM"] == "infra")
        let unexpected = environment.keys.filter { !ChildInspection.isAllowedName($0) && !["ONCALL_TEAM", "PWD", "_"].contains($0) }
        #expect(unexpected.isEmpty, "not allow-listed: \(unexpected.sorted())")
    }

    @Test func theCommandGetsThePayloadOnStdin() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdin").path
        let payload = Data((0..<200_000).map { UInt8(ascii: "a") + UInt8($0 % 26) })
        let status = try await ProcessRunner.run(["/bin/sh", "-c", "cat > \(out)"], stdin: payload, timeout: .seconds(10))
        #expect(status == 0)
        #expect(FileManager.default.contents(atPath: out) == payload)
        #expect(try await ProcessRunner.run(["/bin/sh", "-c", "exit 3"], stdin: Data(), timeout: .seconds(10)) == 3)
    }

    /// The child never reads its stdin (more than a pipe holds) and leaves a grandchild behind:
    /// the timeout still fires, and the grandchild goes with the child.
    @Test func theTimeoutCoversTheWholeLifeAndKillsTheProcessGroup() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pids = directory.appendingPathComponent("pids").path
        let outcome = Mutex<Result<Int32, any Error>?>(nil)
        let started = ContinuousClock.now
        let payload = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        Task.detached {
            do {
                let status = try await ProcessRunner.run(["/bin/sh", "-c", "sleep 300 & echo $$ $! > \(pids); sleep 300"],
                                                         stdin: payload, timeout: .milliseconds(800))
                outcome.withLock { $0 = .success(status) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
        }
        try await waitUntil("both processes to start") {
            (try? String(contentsOfFile: pids, encoding: .utf8))?.hasSuffix("\n") == true
        }
        let numbers = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let (child, grandchild) = (numbers[0], numbers[1])
        defer {
            kill(grandchild, SIGKILL)
            kill(child, SIGKILL)
        }
        do {
            try await waitUntil("the runner to give up", timeout: .seconds(10)) { outcome.withLock { $0 != nil } }
        } catch {
            Issue.record("the runner did not return: its timeout was never armed (it is blocked writing stdin)")
            return
        }
        #expect(ContinuousClock.now - started < .seconds(8))
        guard case .failure(let error)? = outcome.withLock({ $0 }) else {
            Issue.record("expected a timeout, got \(String(describing: outcome.withLock { $0 }))")
            return
        }
        #expect(error is ProcessRunner.TimedOut)
        try await waitUntil("the grandchild to be killed with its group", timeout: .seconds(5)) { !processAlive(grandchild) }
    }
}
