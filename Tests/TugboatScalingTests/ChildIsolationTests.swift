import Foundation
import Logging
import Testing
import TugboatCore
@testable import TugboatScaling

/// Issue 15: instances and scripts hold no descriptor of Tugboat's (its listeners and connections,
/// opened without close-on-exec as NIO does) and none of its environment beyond the allow-list and
/// what the config names under `env:`.
@Suite(.serialized)
struct ChildIsolationTests {
    let logger = Logger(label: "test.scaling.isolation")

    @Test func aProcessInstanceHoldsNoSocketAndNoSecretOfTugboats() async throws {
        let ours = ChildInspection.openInheritableSockets()
        defer { ChildInspection.closeAll(ours) }
        let ourSockets = ChildInspection.ownSockets
        #expect(ourSockets.count >= 3)
        try await ChildInspection.withSecretsInEnvironment {
            let provider = ProcessProvider(command: "sleep 300 # {port}", ports: portRange(), environment: ["APP_MODE": "test"],
                                           stopGrace: .seconds(2), logger: logger)
            let instance = try await provider.launch()
            defer { Task { await provider.shutdown() } }
            let pid = Int32(instance.providerID)!
            try await waitUntil("the instance to exec sleep") { ChildInspection.program(pid: pid) == "sleep" }

            let descriptors = await ChildInspection.settledDescriptors(pid: pid)
            #expect(ChildInspection.sockets(descriptors.values).isDisjoint(with: ourSockets), "inherited: \(descriptors)")
            #expect(descriptors.keys.allSatisfy { $0 <= 2 }, "descriptors beyond 0-2: \(descriptors)")

            let environment = ChildInspection.environment(pid: pid)
            for (name, secret) in ChildInspection.secrets {
                #expect(environment[name] == nil)
                #expect(!environment.values.contains { $0.contains(secret) })
            }
            #expect(environment["APP_MODE"] == "test")
            #expect(environment["PORT"] == String(instance.address.port))
            #expect(environment["PATH"] == ProcessInfo.processInfo.environment["PATH"])
            let unexpected = environment.keys.filter { !ChildInspection.isAllowedName($0) && !["APP_MODE", "PORT", "PWD"].contains($0) }
            #expect(unexpected.isEmpty, "not allow-listed: \(unexpected.sorted())")
            await provider.shutdown()
        }
    }

    @Test func anExecScriptHoldsNoSocketAndNoSecretOfTugboats() async throws {
        let ours = ChildInspection.openInheritableSockets()
        defer { ChildInspection.closeAll(ours) }
        let ourSockets = ChildInspection.ownSockets
        try await ChildInspection.withSecretsInEnvironment {
            // The script reports its shell's descriptors (`ls -l` of /proc/$$/fd: "... 1 -> pipe:[…]") and environment.
            let result = try await ScriptRunner.run("ls -l /proc/$$/fd; env", environment: ["DEPLOY_ENV": "staging"], timeout: .seconds(10))
            #expect(result.succeeded, "\(result.failureText)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            let descriptors = Dictionary(uniqueKeysWithValues: lines.compactMap { line -> (Int, String)? in
                guard let arrow = line.range(of: " -> "), let fd = line[..<arrow.lowerBound].split(separator: " ").last.flatMap({ Int($0) }) else { return nil }
                return (fd, String(line[arrow.upperBound...]))
            })
            #expect(descriptors.keys.contains(1))
            #expect(ChildInspection.sockets(descriptors.values).isDisjoint(with: ourSockets), "inherited: \(descriptors)")
            #expect(descriptors.keys.allSatisfy { $0 <= 2 }, "descriptors beyond 0-2: \(descriptors)")
            let environment = ChildInspection.parseEnvironment(lines.filter { !$0.contains(" -> ") })
            for (name, secret) in ChildInspection.secrets {
                #expect(environment[name] == nil)
                #expect(!result.stdout.contains(secret))
            }
            #expect(environment["DEPLOY_ENV"] == "staging")
            // The shell sets PWD (and dash nothing else); env adds "_" on some shells.
            let unexpected = environment.keys.filter { !ChildInspection.isAllowedName($0) && !["DEPLOY_ENV", "PWD", "_", "OLDPWD", "SHLVL"].contains($0) }
            #expect(unexpected.isEmpty, "not allow-listed: \(unexpected.sorted())")
        }
    }
}
