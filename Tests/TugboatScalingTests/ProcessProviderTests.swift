import Foundation
import Logging
import Testing
import TugboatCore
@testable import TugboatScaling

/// Live tests: real `tugboat demo-app` children on free ports of 127.0.0.1.
@Suite(.serialized)
struct ProcessProviderTests {
    let logger = Logger(label: "test.scaling.process")

    @Test func launchServesHealthDetectsACrashAndStops() async throws {
        let provider = ProcessProvider(command: "\(tugboatExecutable) demo-app --port {port}", ports: portRange(),
                                       stopGrace: .seconds(5), logger: logger)
        let a = try await provider.launch()
        let b = try await provider.launch()
        #expect(a.address.host == "127.0.0.1")
        #expect(a.address.port != b.address.port)
        try await waitUntil("\(a.address) healthy") { httpStatus(port: a.address.port, "/health") == 200 }
        try await waitUntil("\(b.address) healthy") { httpStatus(port: b.address.port, "/health") == 200 }
        #expect(try await provider.list() == [a, b].sorted { $0.address < $1.address })

        // A crash is an exit event with its status.
        _ = httpStatus(port: a.address.port, "/crash")
        let exit = await next(provider.exits)
        #expect(exit == InstanceExit(instance: a, status: .exited(70)))
        #expect(try await provider.list() == [b])

        // A stop is not an exit event; the process is gone afterwards.
        let pid = Int32(b.providerID)!
        try await provider.stop(b)
        #expect(!processAlive(pid))
        #expect(httpStatus(port: b.address.port, "/health") == nil)
        #expect(try await provider.list().isEmpty)
        try await provider.stop(b)  // stopping what is gone succeeds
        await provider.shutdown()
        #expect(await next(provider.exits, timeout: .seconds(5)) == nil)  // ended, and no exit for b
    }

    @Test func portAndEnvironmentReachTheCommand() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-scaling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let provider = ProcessProvider(
            command: "echo \"$PORT {port} $EXTRA\" > \(directory.path)/out; exec sleep 300",
            ports: portRange(), environment: ["EXTRA": "hello"], stopGrace: .seconds(5), logger: logger)
        let instance = try await provider.launch()
        let file = directory.appendingPathComponent("out").path
        try await waitUntil("the command to write its file") {
            (try? String(contentsOfFile: file, encoding: .utf8))?.hasSuffix("\n") == true
        }
        let port = instance.address.port
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "\(port) \(port) hello\n")
        await provider.shutdown()
        #expect(!processAlive(Int32(instance.providerID)!))
    }

    @Test func stopKillsTheWholeProcessGroupAndIgnoredTermIsKilled() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-scaling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The shell ignores SIGTERM and starts a grandchild: stop must SIGKILL the whole group.
        let provider = ProcessProvider(
            command: "trap '' TERM; sleep 300 & echo $! > \(directory.path)/grandchild; wait",
            ports: portRange(), stopGrace: .milliseconds(300), logger: logger)
        let instance = try await provider.launch()
        let file = directory.appendingPathComponent("grandchild").path
        try await waitUntil("the grandchild's pid") {
            Int32((try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") != nil
        }
        let grandchild = Int32(try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(processAlive(grandchild))
        try await provider.stop(instance)
        #expect(!processAlive(Int32(instance.providerID)!))
        try await waitUntil("the grandchild to be gone", timeout: .seconds(5)) { !processAlive(grandchild) }
        await provider.shutdown()
    }

    @Test func busyPortsAreSkippedAndTheRangeCanRunOut() async throws {
        let range = portRange(count: 2)
        let provider = ProcessProvider(command: "exec sleep 300", ports: range, stopGrace: .seconds(5), logger: logger)
        let first = try await provider.launch()
        let second = try await provider.launch()
        #expect(Set([first.address.port, second.address.port]) == Set(range))
        await #expect(throws: ProviderError.self) { try await provider.launch() }
        await provider.shutdown()
    }

    @Test func deinitKillsChildren() async throws {
        var pid: Int32 = 0
        do {
            let provider = ProcessProvider(command: "exec sleep 300", ports: portRange(), logger: logger)
            pid = Int32(try await provider.launch().providerID)!
            #expect(processAlive(pid))
        }
        try await waitUntil("the child to be killed", timeout: .seconds(5)) { !processAlive(pid) }
    }
}

extension ProcessProviderTests {
    /// A child spawned from a Swift-concurrency thread must not inherit that thread's blocked
    /// signals: SIGTERM has to stop it without waiting for the SIGKILL.
    @Test func sigtermStopsAFreshChildWithoutSigkill() async throws {
        let provider = ProcessProvider(command: "exec sleep 300", ports: portRange(), stopGrace: .seconds(60), logger: logger)
        let instance = try await provider.launch()
        let started = ContinuousClock.now
        try await provider.stop(instance)
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(!processAlive(Int32(instance.providerID)!))
        await provider.shutdown()
    }

    @Test("a lone command replaces the shell (exec) so it carries the death signal; compound lines stay as written")
    func execLine() {
        #expect(ProcessProvider.execLine("python3 app.py --port 9100") == "exec python3 app.py --port 9100")
        #expect(ProcessProvider.execLine("  ./server > log 2>&1") == "exec ./server > log 2>&1")
        for line in ["cd app && ./server", "a; b", "x | y", "PORT=1 ./app", "exec ./app", "(./app)", "./app $(cat args)"] {
            #expect(ProcessProvider.execLine(line) == line)
        }
    }
}
