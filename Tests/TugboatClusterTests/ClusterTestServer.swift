import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import TugboatRedis

struct ClusterTestError: Error, CustomStringConvertible {
    let description: String
}

/// A real `redis-server` on a free port of 127.0.0.1, in a temp directory; killed by PID.
/// (The idea of TugboatRedisTests' `RedisTestServer`, which lives in another test target.)
final class ClusterTestServer: @unchecked Sendable {
    static let executable = "/usr/bin/redis-server"

    let port: Int
    let directory: URL
    private var process: Process?

    init() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw ClusterTestError(description: "\(Self.executable) is missing: install redis-server (version 7) to run the cluster tests")
        }
        self.port = try await Self.freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        try await self.start()
    }

    var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: self.port)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = .seconds(1)
        configuration.reconnectMaximumDelay = .milliseconds(300)
        return configuration
    }

    /// Starts the server (again, on the same port) and polls until it answers PING (at most 5 s).
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = [
            "--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.directory.path, "--daemonize", "no", "--logfile", self.directory.appendingPathComponent("redis.log").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var configuration = self.configuration
        configuration.protocolVersion = .resp2
        configuration.connectTimeout = .milliseconds(200)
        while clock.now < deadline {
            guard process.isRunning else { break }
            if let connection = try? await RedisConnection.connect(
                configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, pubSub: false,
                logger: clusterTestLogger, onPush: { _ in }
            ) {
                let reply = try? await connection.send(["PING"])
                connection.close()
                if reply != nil { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = (try? String(contentsOf: self.directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
        throw ClusterTestError(description: "redis-server on port \(self.port) did not become ready within 5 s; log:\n\(log.suffix(2000))")
    }

    /// SIGKILL, and wait for the process to be gone.
    func kill() {
        guard let process = self.process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func stop() {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }

    private static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        guard port > 0 else { throw ClusterTestError(description: "no free port") }
        return port
    }
}

/// Runs `body` with a server that is stopped afterwards, even if `body` throws.
func withClusterServer<T>(_ body: (ClusterTestServer) async throws -> T) async throws -> T {
    let server = try await ClusterTestServer()
    do {
        let result = try await body(server)
        server.stop()
        return result
    } catch {
        server.stop()
        throw error
    }
}

/// Polls `condition` every 10 ms for at most `timeout`; throws if it never holds. Returns how
/// long it took.
@discardableResult
func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now < start + timeout {
        if try await condition() { return clock.now - start }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw ClusterTestError(description: "timed out after \(timeout) waiting for: \(what)")
}

let clusterTestLogger: Logger = {
    var logger = Logger(label: "tugboat.cluster.test")
    logger.logLevel = .critical
    return logger
}()
