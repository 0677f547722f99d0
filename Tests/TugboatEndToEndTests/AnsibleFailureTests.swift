import Foundation
import Testing

/// What goes wrong with examples/ansible, through Tugboat: each case is a failed launch (a failed
/// transition in `GET /api/scaling/events`) whose reason carries what Ansible (or up.sh) said, also
/// in Tugboat's log, and leaves no container behind.
@Suite("Ansible playbooks that fail", .serialized,
       .enabled(if: DockerHost.available, "needs a docker daemon and busybox-static (scripts/test.sh starts and installs them)"))
struct AnsibleFailureTests {
    /// One way to fail: what up.sh gets (`env`, set up in a scratch directory), the provider's
    /// timeout, and the words the failed transition must carry.
    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var timeout = "2m"
        var expected: String
        var environment: @Sendable (_ scratch: String) throws -> [String: String]
    }

    static let cases: [Case] = [
        Case(testDescription: "image missing", expected: "Cannot find the image tugboat-no-such-image:1 locally") { _ in
            ["ANSIBLE_EXTRA_VARS": "image=tugboat-no-such-image:1"]
        },
        Case(testDescription: "a container that never turns healthy is removed",
             expected: "scale_up.yml: Wait until it answers: Status code was 404") { _ in
            ["ANSIBLE_EXTRA_VARS": "health_path=/no-such-path health_timeout=2"]
        },
        Case(testDescription: "ansible-playbook missing", expected: "ansible-playbook not found on PATH (Debian: apt-get install ansible)") { scratch in
            // A PATH with bash (for the script's #!/usr/bin/env bash) and nothing else.
            try FileManager.default.createSymbolicLink(atPath: "\(scratch)/bash", withDestinationPath: "/bin/bash")
            return ["PATH": scratch]
        },
        Case(testDescription: "a playbook that reports no address",
             expected: "quiet.yml reported no address (it must end with a debug message \"tugboat-address HOST:PORT\")") { scratch in
            try playbook("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: started nothing }\n",
                         at: "\(scratch)/quiet.yml")
            return ["TUGBOAT_UP_PLAYBOOK": "\(scratch)/quiet.yml"]
        },
    ]

    static func playbook(_ text: String, at path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func scratchDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "tugboat-ansible-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Tugboat with the exec provider running up.sh for `pool` (min 1, so it keeps trying).
    static func tugboat(pool: String, env: [String: String], timeout: String = "2m") throws -> TugboatUnderTest {
        try TugboatUnderTest(backends: [], extraTop: """
        scaling:
          provider: \(AnsibleScalingTests.exec(pool: pool, env: env, timeout: timeout))
          min: 1
          max: 1
          target-rps: 30
        """)
    }

    static func failures(_ tugboat: TugboatUnderTest) throws -> [[String: Any]] {
        try AnsibleScalingTests.events(tugboat).filter { $0["failed"] as? Bool == true }
    }

    @Test("a failed launch carries the cause, in the event and the log, and leaves no container", arguments: cases)
    func failedLaunch(_ failure: Case) throws {
        try DockerHost.requireAnsible()
        try DockerHost.buildImage()
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let pool = "failing-\(UUID().uuidString.prefix(8).lowercased())"
        defer { DockerHost.removeContainers(pool: pool) }
        let tugboat = try Self.tugboat(pool: pool, env: try failure.environment(scratch), timeout: failure.timeout)
        defer { tugboat.stop() }

        try waitUntilBlocking(timeout: .seconds(120), "a failed launch") { try !Self.failures(tugboat).isEmpty }
        let reason = try Self.failures(tugboat)[0]["reason"] as? String ?? ""
        #expect(reason.hasPrefix("launch failed: up script exited with status"), "\(reason)")
        #expect(reason.contains(failure.expected), "\(reason)")
        let logged = failure.expected.prefix { $0 != "\"" }  // (the log escapes quotes)
        // (The event is in the API a moment before the line is logged.)
        try waitUntilBlocking(timeout: .seconds(5), "the cause in Tugboat's log") {
            tugboat.child.lines.contains { $0.contains("scaling transition") && $0.contains(logged) }
        }
        #expect(try DockerHost.containers(pool: pool).isEmpty, "no container left labelled tugboat.pool=\(pool)")
        #expect(try tugboat.pool().isEmpty)
    }

    @Test("a failing playbook is retried with backoff: 1 s, then 2 s")
    func retriedWithBackoff() throws {
        try DockerHost.requireAnsible()
        let pool = "failing-\(UUID().uuidString.prefix(8).lowercased())"
        let tugboat = try Self.tugboat(pool: pool, env: ["ANSIBLE_EXTRA_VARS": "image=tugboat-no-such-image:1"])
        defer { tugboat.stop() }
        try waitUntilBlocking(timeout: .seconds(180), "two failed launches") { try Self.failures(tugboat).count >= 2 }
        let failures = try Self.failures(tugboat)
        let reasons = failures.map { $0["reason"] as? String ?? "" }
        #expect(reasons[0].hasSuffix("retry in 1.0 seconds"), "\(reasons[0])")
        #expect(reasons[1].hasSuffix("retry in 2.0 seconds"), "\(reasons[1])")
        #expect(reasons.allSatisfy { $0.contains("Cannot find the image tugboat-no-such-image:1 locally") })
    }

    @Test("a port already taken: Docker's error through Ansible, and the created container removed")
    func portTaken() throws {
        try DockerHost.requireAnsible()
        try DockerHost.buildImage()
        let holder = try DemoBackend()
        defer { holder.kill() }
        let pool = "failing-\(UUID().uuidString.prefix(8).lowercased())"
        defer { DockerHost.removeContainers(pool: pool) }
        let tugboat = try Self.tugboat(pool: pool, env: ["ANSIBLE_EXTRA_VARS": "host_port=\(holder.port)"])
        defer { tugboat.stop() }
        try waitUntilBlocking(timeout: .seconds(120), "a failed launch") { try !Self.failures(tugboat).isEmpty }
        let reason = try Self.failures(tugboat)[0]["reason"] as? String ?? ""
        #expect(reason.contains("scale_up.yml: Start the container: Error starting container: driver failed programming external connectivity"), "\(reason)")
        #expect(reason.contains("127.0.0.1:\(holder.port): bind: address already in use"), "\(reason)")
        try waitUntilBlocking(timeout: .seconds(5), "the cause in Tugboat's log") {
            tugboat.child.lines.contains { $0.contains("scaling transition") && $0.contains("bind: address already in use") }
        }
        #expect(try DockerHost.containers(pool: pool).isEmpty, "the container that could not start is removed")
    }

    @Test("a playbook that hangs is killed at the provider's timeout, with what it started")
    func hangingPlaybook() throws {
        try DockerHost.requireAnsible()
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: scratch)) }
        let seconds = Int.random(in: 100_000...999_999)  // a sleep no one else runs
        try Self.playbook("""
        - hosts: localhost
          gather_facts: false
          tasks:
            - ansible.builtin.command: sleep \(seconds)
        """, at: "\(scratch)/hang.yml")
        func sleeping() throws -> [String] {
            try Shell.run("pgrep -f '^sleep \(seconds)$'").output.split(whereSeparator: \.isNewline).map(String.init)
        }
        let tugboat = try Self.tugboat(pool: "hang", env: ["TUGBOAT_UP_PLAYBOOK": "\(scratch)/hang.yml"], timeout: "20s")
        defer {
            tugboat.stop()
            for case let pid? in ((try? sleeping()) ?? []).map({ Int32($0) }) where pid > 0 { kill(pid, SIGKILL) }  // a retry's
        }
        var task: [String] = []
        try waitUntilBlocking(timeout: .seconds(20), "the playbook's task running") { task = try sleeping(); return !task.isEmpty }
        try waitUntilBlocking(timeout: .seconds(30), "a failed launch") { try !Self.failures(tugboat).isEmpty }
        let reason = try Self.failures(tugboat)[0]["reason"] as? String ?? ""
        #expect(reason.contains("up script timed out"), "\(reason)")
        // (The retry may have started a sleep of its own by now: the first one's pid must be gone.)
        #expect(try Set(sleeping()).isDisjoint(with: task), "the task's process is killed with the playbook")
    }
}
