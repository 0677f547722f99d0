import Foundation
import Testing

/// Issue 15 end to end, against a real `tugboat serve`: its instances hold none of its descriptors
/// or secrets, and a gzip bomb pushed to the admin API is refused without expanding it.
@Suite("Hardening end to end", .serialized)
struct HardeningTests {
    static let secrets = ["TUGBOAT_ADMIN_TOKEN": "admin-token-must-not-leak-7f3a", "TWILIO_AUTH_TOKEN": "twilio-token-must-not-leak-91c2"]

    /// The direct children of `pid` (every thread's `children` list).
    static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
    }

    static func sockets(of pid: Int32) -> Set<String> {
        let directory = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)") }
            .filter { $0.hasPrefix("socket:[") })
    }

    static func environment(of pid: Int32) -> [String] {
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A status field of a process in bytes (VmRSS, VmHWM).
    static func memory(_ field: String, of pid: Int32) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    @Test("a process-provider instance holds no socket of Tugboat's and none of its secrets")
    func instancesAreClean() throws {
        let (scaling, _) = ScalingTests.processScaling("  min: 1\n  max: 1\n  target-rps: 1000")
        let tugboat = try TugboatUnderTest(backends: [], extraTop: scaling, environment: Self.secrets)
        defer { tugboat.stop() }
        try waitUntilBlocking(timeout: .seconds(30), "the instance serving") {
            try tugboat.pool().contains { $0["state"] as? String == "healthy" }
        }
        let instances = Self.children(of: tugboat.child.pid).filter {
            (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8))?.contains("demo-app") == true
        }
        #expect(instances.count == 1)
        // Tugboat's listeners and connections (the health checks' included) right now.
        let ours = Self.sockets(of: tugboat.child.pid)
        #expect(ours.count >= 2)
        for instance in instances {
            let theirs = Self.sockets(of: instance)
            #expect(theirs.isDisjoint(with: ours), "the instance holds Tugboat's sockets \(theirs.intersection(ours))")
            let environment = Self.environment(of: instance)
            for (name, secret) in Self.secrets {
                #expect(!environment.contains { $0.hasPrefix(name + "=") || $0.contains(secret) }, "\(name) reached the instance")
            }
        }
    }

    @Test("a gzip bomb pushed to the admin API is refused with 413, quickly, without expanding it")
    func gzipBombIsRefused() throws {
        let backend = try DemoBackend()
        defer { backend.kill() }
        let tugboat = try TugboatUnderTest(backends: [backend.address],
                                           extraTop: "profiling: { source: push, window: 5s, max-body: 2MiB }")
        defer { tugboat.stop() }
        try tugboat.waitHealthy([backend.address])
        let route = "/api/instances/\(backend.address)/stacks"
        try waitUntilBlocking("the instance attached for pushes") {
            try tugboat.post(route, body: "main;serve 3\n").status == 202
        }
        let directory = NSTemporaryDirectory() + "tugboat-bomb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 400 gzip members of 1 MiB of zeros: about 400 KB that expand to 400 MiB.
        let bomb = "\(directory)/bomb.gz"
        try run("/bin/sh", ["-c", "head -c 1048576 /dev/zero | gzip -c > \(directory)/member && for i in $(seq 400); do cat \(directory)/member; done > \(bomb)"])
        let size = try FileManager.default.attributesOfItem(atPath: bomb)[.size] as? Int ?? 0
        #expect(size > 100_000 && size < 1_000_000)

        let pid = tugboat.child.pid
        try? "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)  // resets VmHWM
        let residentBefore = Self.memory("VmRSS", of: pid)
        let started = Date()
        let status = try run("/usr/bin/curl", ["-s", "-o", "\(directory)/answer", "-w", "%{http_code}", "--data-binary", "@\(bomb)",
                                               "-H", "Content-Type: application/octet-stream", "http://127.0.0.1:\(tugboat.adminPort)\(route)"])
        #expect(status == "413", "answer: \((try? String(contentsOfFile: "\(directory)/answer", encoding: .utf8)) ?? "")")
        #expect((try? String(contentsOfFile: "\(directory)/answer", encoding: .utf8))?.contains("64 MiB") == true)
        #expect(Date().timeIntervalSince(started) < 5)
        let peakGrowth = Self.memory("VmHWM", of: pid) - residentBefore
        #expect(peakGrowth < 200 << 20, "Tugboat's peak resident size grew by \(peakGrowth >> 20) MiB")

        // A body over max-body is refused before it is read whole.
        let big = "\(directory)/big.txt"
        try run("/bin/sh", ["-c", "head -c 3000000 /dev/zero | tr '\\0' 'a' > \(big)"])
        let bigStatus = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@\(big)",
                                                  "http://127.0.0.1:\(tugboat.adminPort)\(route)"])
        #expect(bigStatus == "413")
    }

    /// Runs a program to its end; its standard output.
    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
