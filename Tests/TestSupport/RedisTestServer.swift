import Foundation
import Logging
import TugboatRedis
#if canImport(Glibc)
import Glibc
#endif

package struct RedisTestError: Error, CustomStringConvertible {
    package let description: String
    package init(description: String) { self.description = description }
}

/// A real `redis-server` on a free port of 127.0.0.1, in a temp directory; killed by PID.
/// Shared by the Redis client's and the cluster's tests (a test target cannot import another).
package final class RedisTestServer: @unchecked Sendable {
    package static let executable = "/usr/bin/redis-server"

    /// A server that speaks TLS only (`--tls-port`, no plain port): its certificate and key, and
    /// the CA that signs the clients' certificates.
    package struct TLSFiles: Sendable {
        package var cert: String
        package var key: String
        package var ca: String
        package init(cert: String, key: String, ca: String) {
            self.cert = cert
            self.key = key
            self.ca = ca
        }
    }

    package let port: Int
    package let directory: URL
    private let extraArguments: [String]
    private let tls: TLSFiles?
    private var child: ChildProcess?

    /// Starts a server on a port the kernel calls free; another port if that one is taken in
    /// between (three tries).
    package init(arguments: [String] = [], tls: TLSFiles? = nil) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw RedisTestError(description: "\(Self.executable) is missing: install redis-server (version 7) to run the live Redis tests")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var attempt = 0
        while true {
            let port = try freePort()
            do {
                child = try await Self.launch(port: port, directory: directory, tls: tls, extraArguments: arguments)
                self.port = port
                break
            } catch {
                attempt += 1
                if attempt == 3 { throw error }
            }
        }
        self.directory = directory
        self.extraArguments = arguments
        self.tls = tls
    }

    /// `redis://127.0.0.1:PORT/0`, for a config's `state:`.
    package var url: String { "redis://127.0.0.1:\(port)/0" }

    package var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: self.port)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = .seconds(2)
        configuration.reconnectMaximumDelay = .milliseconds(500)
        return configuration
    }

    /// Starts the server again, on the same port (empty: it keeps nothing), and waits until it
    /// accepts a connection.
    package func start() async throws {
        child = try await Self.launch(port: port, directory: directory, tls: tls, extraArguments: extraArguments)
    }

    private static func launch(port: Int, directory: URL, tls: TLSFiles?, extraArguments: [String]) async throws -> ChildProcess {
        let listen = tls.map { ["--port", "0", "--tls-port", "\(port)", "--tls-cert-file", $0.cert, "--tls-key-file", $0.key,
                                "--tls-ca-cert-file", $0.ca] } ?? ["--port", "\(port)"]
        let child = try ChildProcess(executable: executable, arguments: listen + [
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--daemonize", "no", "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + extraArguments)
        do {
            try await waitUntilReady(child, port: port, directory: directory, tls: tls != nil)
        } catch {
            child.stop()
            throw error
        }
        return child
    }

    /// Polls with PING (a NOAUTH reply counts as up) until the server answers, at most 20 s (a busy 2-core CI machine starts a TLS server slowly); a TLS
    /// server, until its log says it is ready.
    private static func waitUntilReady(_ child: ChildProcess, port: Int, directory: URL, tls: Bool) async throws {
        let logFile = directory.appendingPathComponent("redis.log")
        do {
            try await waitUntil("redis-server on port \(port) ready", timeout: .seconds(20)) {
                guard child.process.isRunning else { throw RedisTestError(description: "redis-server exited") }
                return tls ? ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").contains("Ready to accept connections")
                    : answersPing(port: port)
            }
        } catch {
            let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            throw RedisTestError(description: "redis-server on port \(port) did not become ready within 20 s; log:\n\(log.suffix(2000))")
        }
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
    package func kill() {
        child?.stop()
        child = nil
    }

    package func stop() {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }

    deinit { stop() }
}

/// Runs `body` with a server that is stopped afterwards, even if `body` throws.
package func withRedisServer<T>(arguments: [String] = [], tls: RedisTestServer.TLSFiles? = nil,
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

