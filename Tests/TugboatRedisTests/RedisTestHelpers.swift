import Foundation
import Logging
import NIOCore
import NIOPosix
@_exported import TestSupport
import Synchronization
import Testing

@testable import TugboatRedis

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

extension RESPParser {
    /// The first value of `buffer`, with a parser of its own.
    static func parseOne(_ buffer: inout ByteBuffer) throws(RESPParserError) -> RESPValue? {
        var parser = RESPParser()
        return try parser.parse(&buffer)
    }
}

/// A thread-safe list that tests poll.
final class EventLog<Event: Sendable>: Sendable {
    private let events = Mutex<[Event]>([])
    func append(_ event: Event) { self.events.withLock { $0.append(event) } }
    var all: [Event] { self.events.withLock { $0 } }
}

let testLogger: Logger = {
    var logger = Logger(label: "tugboat.redis.test")
    logger.logLevel = .critical
    return logger
}()
