import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import TugboatRedis

struct RedisTestError: Error, CustomStringConvertible {
    let description: String
}

/// A real `redis-server` on a free port of 127.0.0.1, in a temp directory; killed by PID.
final class RedisTestServer: @unchecked Sendable {
    static let executable = "/usr/bin/redis-server"

    let port: Int
    let directory: URL
    private let extraArguments: [String]
    private var process: Process?

    init(arguments: [String] = []) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw RedisTestError(description: "\(Self.executable) is missing: install redis-server (version 7) to run the live Redis tests")
        }
        self.port = try await Self.freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.extraArguments = arguments
        try await self.start()
    }

    var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: self.port)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = .seconds(2)
        configuration.reconnectMaximumDelay = .milliseconds(500)
        return configuration
    }

    /// Starts the server (again, on the same port) and waits until it accepts a connection.
    func start(password: String? = nil) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = [
            "--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.directory.path, "--daemonize", "no", "--logfile", self.directory.appendingPathComponent("redis.log").path,
        ] + self.extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await self.waitUntilReady()
    }

    /// Polls with PING (a NOAUTH reply counts as up) until the server answers, at most 5 s.
    private func waitUntilReady() async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var configuration = self.configuration
        configuration.protocolVersion = .resp2
        configuration.connectTimeout = .milliseconds(200)
        while clock.now < deadline {
            guard self.process?.isRunning == true else { break }
            if let connection = try? await RedisConnection.connect(
                configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, pubSub: false,
                logger: Logger(label: "redis-test-ready"), onPush: { _ in }
            ) {
                let reply = try? await connection.send(["PING"])
                connection.close()
                if reply != nil { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = (try? String(contentsOf: self.directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
        throw RedisTestError(description: "redis-server on port \(self.port) did not become ready within 5 s; log:\n\(log.suffix(2000))")
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
        guard port > 0 else { throw RedisTestError(description: "no free port") }
        return port
    }
}

/// Runs `body` with a server that is stopped afterwards, even if `body` throws.
func withRedisServer<T>(arguments: [String] = [], _ body: (RedisTestServer) async throws -> T) async throws -> T {
    let server = try await RedisTestServer(arguments: arguments)
    do {
        let result = try await body(server)
        server.stop()
        return result
    } catch {
        server.stop()
        throw error
    }
}

/// Runs a client's `run()` for the duration of `body`; waits for the first connection first.
func withClient<T: Sendable>(
    _ configuration: RedisConfiguration, logger: Logger = testLogger, waitForConnection: Bool = true,
    _ body: (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        do {
            if waitForConnection { try await waitUntil("client connected") { client.isConnected } }
            let result = try await body(client)
            client.close()
            try await group.waitForAll()
            return result
        } catch {
            client.close()
            try await group.waitForAll()
            throw error
        }
    }
}

/// Runs a subscriber and collects its events for the duration of `body`.
func withSubscriber<T: Sendable>(
    _ configuration: RedisConfiguration, channels: [String], _ body: (RedisSubscriber, EventLog<RedisSubscriberEvent>) async throws -> T
) async throws -> T {
    let subscriber = RedisSubscriber(configuration: configuration, logger: testLogger)
    let events = EventLog<RedisSubscriberEvent>()
    try await subscriber.subscribe(channels)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await subscriber.run() }
        group.addTask { for await event in subscriber.events { events.append(event) } }
        do {
            let result = try await body(subscriber, events)
            subscriber.close()
            try await group.waitForAll()
            return result
        } catch {
            subscriber.close()
            try await group.waitForAll()
            throw error
        }
    }
}

/// A thread-safe list that tests poll.
final class EventLog<Event: Sendable>: Sendable {
    private let events = Mutex<[Event]>([])
    func append(_ event: Event) { self.events.withLock { $0.append(event) } }
    var all: [Event] { self.events.withLock { $0 } }
}

/// Polls `condition` every 10 ms for at most `timeout`; throws if it never holds.
func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw RedisTestError(description: "timed out after \(timeout) waiting for: \(what)")
}

let testLogger: Logger = {
    var logger = Logger(label: "tugboat.redis.test")
    logger.logLevel = .critical
    return logger
}()

/// Collects every log line (message and metadata) to check that no secret is logged.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }
}
