import Foundation

/// The local Docker Engine (through the `docker` CLI), the demo image that
/// examples/ansible/build-image.sh builds, and Ansible: what the scaling tests with containers need.
enum DockerHost {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples/ansible").path
    static let image = "tugboat-demo:latest"

    /// Whether a daemon answers and the demo image can be built (busybox-static); scripts/test.sh
    /// starts the one and installs the other.
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/bin/busybox")
            && (try? Shell.run("docker version --format '{{.Server.APIVersion}}'").status) == 0
    }

    /// Fails (rather than skips) when dockerd runs but Debian's ansible is not installed.
    static func requireAnsible() throws {
        guard (try? Shell.run("command -v ansible-playbook").status) == 0 else {
            throw TestFailure("ansible-playbook is not on PATH: scripts/test.sh installs Debian's ansible")
        }
    }

    /// Builds `tugboat-demo:latest` with the example's script (once per test run).
    static func buildImage() throws {
        try imageBuilt.get()
    }
    private static let imageBuilt = Result<Void, Error> {
        let build = try Shell.run("bash \(examples)/build-image.sh \(image)")
        guard build.status == 0 else { throw TestFailure("build-image.sh failed: \(build.output)") }
    }

    /// IDs of the containers labelled `tugboat.pool=<pool>`, running or not.
    static func containers(pool: String) throws -> [String] {
        let listed = try Shell.run("docker ps -aq --filter label=tugboat.pool=\(pool)")
        guard listed.status == 0 else { throw TestFailure("docker ps: \(listed.output)") }
        return listed.output.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// Removes the pool's containers (exec and docker instances outlive Tugboat by design).
    static func removeContainers(pool: String) {
        for id in (try? containers(pool: pool)) ?? [] { _ = try? Shell.run("docker rm -f \(id)") }
    }
}

/// A command line run with /bin/sh to its end.
enum Shell {
    /// Its exit status and everything it printed (stdout and stderr).
    static func run(_ command: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // readToEnd() throws where readDataToEndOfFile() would trap (a read error must fail one
        // test, not end the whole run).
        let data = try pipe.fileHandleForReading.readToEnd() ?? Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
