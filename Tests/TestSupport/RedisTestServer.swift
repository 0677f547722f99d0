import Foundation
import Logging
import TugboatRedis
#if canImport(Glibc)
import Glibc
#endif

public struct RedisTestError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// A real `redis-server` on a free port of 127.0.0.1, in a temp directory; killed by PID.
/// Shared by the Redis client's and the cluster's tests (a test target cannot import another).
public final class RedisTestServer: @unchecked Sendable {
    public static let executable = "/usr/bin/redis-server"

    /// A server that speaks TLS only (`--tls-port`, no plain port): its certificate and key, and
    /// the CA that signs the clients' certificates.
    public struct TLSFiles: Sendable {
        public var cert: String
        public var key: String
        public var ca: String
        public init(cert: String, key: String, ca: String) {
            self.cert = cert
            self.key = key
            self.ca = ca
        }
    }

    public let port: Int
    public let directory: URL
    private let extraArguments: [String]
    private let tls: TLSFiles?
    private var process: Process?

    public init(arguments: [String] = [], tls: TLSFiles? = nil) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw RedisTestError(description: "\(Self.executable) is missing: install redis-server (version 7) to run the live Redis tests")
        }
        self.port = try freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.extraArguments = arguments
        self.tls = tls
        try await self.start()
    }

    public var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: self.port)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = .seconds(2)
        configuration.reconnectMaximumDelay = .milliseconds(500)
        return configuration
    }

    /// Starts the server (again, on the same port) and waits until it accepts a connection.
    public func start(password: String? = nil) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        let listen = self.tls.map { ["--port", "0", "--tls-port", "\(self.port)", "--tls-cert-file", $0.cert, "--tls-key-file", $0.key,
                                     "--tls-ca-cert-file", $0.ca] } ?? ["--port", "\(self.port)"]
        process.arguments = listen + [
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.directory.path, "--daemonize", "no", "--logfile", self.directory.appendingPathComponent("redis.log").path,
        ] + self.extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await self.waitUntilReady()
    }

    /// Polls with PING (a NOAUTH reply counts as up) until the server answers, at most 20 s (a busy 2-core CI machine starts a TLS server slowly); a TLS
    /// server, until its log says it is ready.
    private func waitUntilReady() async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        let logFile = self.directory.appendingPathComponent("redis.log")
        while clock.now < deadline {
            guard self.process?.isRunning == true else { break }
            if self.tls == nil ? Self.answersPing(port: self.port)
                : ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").contains("Ready to accept connections") { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        throw RedisTestError(description: "redis-server on port \(self.port) did not become ready within 20 s; log:\n\(log.suffix(2000))")
    }

    /// `PING` in RESP2 on a plain socket: `+PONG`, or an error such as NOAUTH, means it is up.
    private static func answersPing(port: Int) -> Bool {
        guard let fd = connectLoopback(port: port) else { return false }
        defer { close(fd) }
        let ping = Array("PING\r\n".utf8)
        guard send(fd, ping, ping.count, Int32(MSG_NOSIGNAL)) == ping.count else { return false }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &reply, reply.count, 0)
        return count > 0 && (reply[0] == UInt8(ascii: "+") || reply[0] == UInt8(ascii: "-"))
    }

    /// SIGKILL, and wait (bounded) for the process to be gone.
    public func kill() {
        guard let process = self.process else { return }
        let pid = process.processIdentifier
        Glibc.kill(pid, SIGKILL)
        // Not `waitUntilExit()`: Foundation does not always notice a SIGKILLed child here.
        let deadline = Date().addingTimeInterval(5)
        var raw: Int32 = 0
        while process.isRunning, Date() < deadline, waitpid(pid, &raw, WNOHANG) != pid { usleep(10_000) }
        self.process = nil
    }

    public func stop() {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

/// Runs `body` with a server that is stopped afterwards, even if `body` throws.
public func withRedisServer<T>(arguments: [String] = [], tls: RedisTestServer.TLSFiles? = nil,
                               _ body: (RedisTestServer) async throws -> T) async throws -> T {
    let server = try await RedisTestServer(arguments: arguments, tls: tls)
    do {
        let result = try await body(server)
        server.stop()
        return result
    } catch {
        server.stop()
        throw error
    }
}

