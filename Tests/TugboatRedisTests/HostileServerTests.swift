import Foundation
import NIOCore
import Testing

@testable import TugboatRedis

/// Issue 15: a server that lies about sizes, never ends a frame or never answers costs the client
/// one error and a new connection, at once and with bounded memory, not a timeout's wait, a
/// 512 M-element allocation or an ever-growing buffer.
@Suite("Redis client against a hostile server", .serialized, .timeLimit(.minutes(1)))
struct HostileServerTests {
    /// Sends `reply` to the first command of every connection, then reads until the client hangs up.
    static func replying(_ reply: String) throws -> HostileRESPServer {
        try HostileRESPServer { connection, _ in
            guard connection.receive() != nil else { return }
            connection.send(reply)
            connection.drainUntilClosed()
        }
    }

    /// One GET fails with a protocol error within 2 s (not the 5 s command timeout), and the client
    /// connects again.
    static func expectProtocolErrorAtOnce(_ server: HostileRESPServer) async throws {
        try await withClient(server.configuration(commandTimeout: .seconds(5))) { client in
            let start = ContinuousClock.now
            var failure: RedisError?
            do {
                _ = try await client.send(["GET", "key"])
            } catch let error as RedisError {
                failure = error
            }
            let elapsed = ContinuousClock.now - start
            guard case .protocolError? = failure else {
                Issue.record("expected a protocol error, got \(String(describing: failure)) after \(elapsed)")
                return
            }
            #expect(elapsed < .seconds(2))
            try await waitUntil("a second connection") { server.connections >= 2 }
        }
    }

    @Test("a huge aggregate count is a protocol error at once, and the connection is replaced",
          arguments: ["*536870912\r\n", "%268435456\r\n", "$100000000\r\n"])
    func hugeCount(header: String) async throws {
        let server = try Self.replying(header)
        defer { server.stop() }
        try await Self.expectProtocolErrorAtOnce(server)
    }

    @Test("a line that never ends is refused at the line limit")
    func endlessLine() async throws {
        let server = try HostileRESPServer { connection, _ in
            guard connection.receive() != nil else { return }
            guard connection.send("+") else { return }
            let chunk = String(repeating: "a", count: 64 * 1024)
            while connection.send(chunk) {}
        }
        defer { server.stop() }
        try await Self.expectProtocolErrorAtOnce(server)
    }

    @Test("a bulk string that trickles in forever times out, and the connection is replaced")
    func endlessBulk() async throws {
        let server = try HostileRESPServer { connection, _ in
            guard connection.receive() != nil else { return }
            guard connection.send("$1000000\r\n") else { return }
            while connection.send("x") { usleep(10_000) }
        }
        defer { server.stop() }
        try await withClient(server.configuration(commandTimeout: .milliseconds(500))) { client in
            await #expect(throws: RedisError.timeout) { try await client.send(["GET", "key"]) }
            try await waitUntil("a second connection") { server.connections >= 2 }
        }
    }

    @Test("a server that never answers: the command times out and the connection is replaced")
    func silentServer() async throws {
        let server = try HostileRESPServer { connection, _ in connection.drainUntilClosed() }
        defer { server.stop() }
        try await withClient(server.configuration(commandTimeout: .milliseconds(300))) { client in
            let start = ContinuousClock.now
            await #expect(throws: RedisError.timeout) { try await client.send(["PING"]) }
            #expect(ContinuousClock.now - start < .seconds(2))
            try await waitUntil("a second connection") { server.connections >= 2 }
        }
    }

    /// The first connection confirms the subscription, then goes silent (as a server behind a dead
    /// link would); the subscriber must notice with its own PING and reconnect.
    @Test("a subscription whose server goes silent is pinged, times out and is replaced")
    func silentSubscription() async throws {
        let server = try HostileRESPServer { connection, number in
            while let request = connection.receive() {
                let text = String(decoding: request, as: UTF8.self)
                if text.contains("SUBSCRIBE") {
                    connection.send("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
                } else if text.contains("PING"), number > 1 {
                    connection.send("*2\r\n$4\r\npong\r\n$0\r\n\r\n")
                }
            }
        }
        defer { server.stop() }
        var configuration = server.configuration(commandTimeout: .milliseconds(400))
        configuration.healthCheckInterval = .milliseconds(300)
        try await withSubscriber(configuration, channels: ["ch"]) { subscriber, events in
            try await waitUntil("subscribed") { events.all.contains(.resynced) }
            try await waitUntil("the silent connection dropped", timeout: .seconds(5)) { events.all.contains(.disconnected) }
            try await waitUntil("resubscribed on a new connection", timeout: .seconds(5)) {
                events.all.filter { $0 == .resynced }.count >= 2
            }
            #expect(server.connections >= 2)
            // The second connection answers its PINGs: it stays.
            let settled = events.all.count
            try await Task.sleep(for: .milliseconds(1500))
            #expect(events.all.count == settled, "events after settling: \(events.all.dropFirst(settled))")
        }
    }
}
