import Logging
import TestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import TugboatRedis

/// Against a real redis-server started by each test (see `RedisTestServer`).
@Suite("Redis live", .timeLimit(.minutes(1)))
struct RedisLiveTests {
    @Test("HELLO 3 negotiates RESP3: maps come back as maps")
    func resp3() async throws {
        try await withRedisServer { server in
            try await withClient(server.configuration) { client in
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains("resp=3") == true)
                _ = try await client.send(["HSET", "h", "a", "1", "b", "2"])
                let reply = try await client.send(["HGETALL", "h"])
                guard case .map = reply else { Issue.record("HGETALL gave \(reply)"); return }
                #expect(Set(reply.pairs?.compactMap { $0.key.string } ?? []) == ["a", "b"])
                #expect(try await client.send(["GET", "missing"]).isNull)
                #expect(try await client.send(["PING"]) == .simpleString("PONG"))
                await #expect(throws: RedisError.server("WRONGTYPE Operation against a key holding the wrong kind of value")) {
                    try await client.send(["INCR", "h"])
                }
                await #expect(throws: RedisError.self) { try await client.send(["SUBSCRIBE", "x"]) }
            }
        }
    }

    @Test("forced RESP2: no HELLO, maps come back as flat arrays")
    func resp2() async throws {
        try await withRedisServer { server in
            var configuration = server.configuration
            configuration.protocolVersion = .resp2
            try await withClient(configuration) { client in
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains("resp=2") == true)
                _ = try await client.send(["HSET", "h", "a", "1"])
                let reply = try await client.send(["HGETALL", "h"])
                #expect(reply == .array([.bulk("a"), .bulk("1")]))
                #expect(reply.pairs == [.init(.bulk("a"), .bulk("1"))])
                #expect(try await client.send(["GET", "missing"]) == .bulkString(nil))
            }
        }
    }

    @Test("a server that refuses HELLO gets RESP2 with AUTH and SELECT as separate commands")
    func helloRefusedFallsBackToRESP2() async throws {
        try await withRedisServer(arguments: ["--requirepass", "fallback-pass", "--rename-command", "HELLO", ""]) { server in
            var configuration = server.configuration
            configuration.password = "fallback-pass"
            configuration.database = 2
            configuration.clientName = "fallback"
            try await withClient(configuration) { client in
                let info = try await client.send(["CLIENT", "INFO"]).string ?? ""
                #expect(info.contains("resp=2"))
                #expect(info.contains(" db=2 "))
                #expect(info.contains(" name=fallback "))
            }
        }
    }

    @Test("requirepass: the right password connects, a wrong one fails clearly without showing it", arguments: [RedisProtocolVersion.resp3, .resp2])
    func password(version: RedisProtocolVersion) async throws {
        try await withRedisServer(arguments: ["--requirepass", "right-pass"]) { server in
            var configuration = server.configuration
            configuration.protocolVersion = version
            configuration.password = "right-pass"
            configuration.clientName = "tugboat-test"
            try await withClient(configuration) { client in
                let name = try await client.send(["CLIENT", "GETNAME"]).string
                #expect(name == "tugboat-test")
            }

            configuration.password = "wrong-pass-xyz"
            do {
                _ = try await RedisConnection.connect(
                    configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, pubSub: false,
                    logger: testLogger, onPush: { _ in }
                )
                Issue.record("wrong password connected")
            } catch let error as RedisError {
                guard case .authenticationFailed = error else { Issue.record("unexpected \(error)"); return }
                #expect(!"\(error)".contains("wrong-pass-xyz"))
                #expect("\(error)".contains("authentication failed"))
            }

            // The client keeps retrying, logs without the password, and fails commands at once.
            let handler = CapturingLogHandler()
            let logger = Logger(label: "capture") { _ in handler }
            try await withClient(configuration, logger: logger, waitForConnection: false) { client in
                try await waitUntil("a failed connect is logged") { handler.lines.withLock { !$0.isEmpty } }
                await #expect(throws: RedisError.notConnected) { try await client.send(["PING"]) }
            }
            let lines = handler.lines.withLock { $0 }
            #expect(lines.contains { $0.contains("WRONGPASS") })
            #expect(!lines.contains { $0.contains("wrong-pass-xyz") })
        }
    }

    @Test("an ACL user authenticates with user name and password", arguments: [RedisProtocolVersion.resp3, .resp2])
    func aclUser(version: RedisProtocolVersion) async throws {
        try await withRedisServer { server in
            try await withClient(server.configuration) { admin in
                _ = try await admin.send(["ACL", "SETUSER", "alice", "on", ">alice-pass", "~*", "&*", "+@all"])
            }
            var configuration = server.configuration
            configuration.protocolVersion = version
            configuration.username = "alice"
            configuration.password = "alice-pass"
            try await withClient(configuration) { client in
                let name = try await client.send(["ACL", "WHOAMI"]).string
                #expect(name == "alice")
            }
        }
    }

    @Test("the database index is selected", arguments: [RedisProtocolVersion.resp3, .resp2])
    func selectDatabase(version: RedisProtocolVersion) async throws {
        try await withRedisServer { server in
            var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(server.port)/3")
            configuration.protocolVersion = version
            try await withClient(configuration) { client in
                _ = try await client.send(["SET", "where", "three"])
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains(" db=3 ") == true)
            }
            try await withClient(server.configuration) { client in
                #expect(try await client.send(["GET", "where"]).isNull)
                _ = try await client.send(["SELECT", "3"])
                #expect(try await client.send(["GET", "where"]).string == "three")
            }
        }
    }

    @Test("1000 INCRs in one pipeline come back in order; error replies stay in place")
    func pipelining() async throws {
        try await withRedisServer { server in
            try await withClient(server.configuration) { client in
                let replies = try await client.pipeline(Array(repeating: ["INCR", "counter"], count: 1000))
                #expect(try replies.map { try $0.get().int } == Array(1...1000))

                _ = try await client.send(["SET", "text", "x"])
                let mixed = try await client.pipeline([["INCR", "counter"], ["INCR", "text"], ["GET", "counter"]])
                #expect(try mixed[0].get() == .integer(1001))
                #expect(throws: RedisError.self) { try mixed[1].get() }
                #expect(try mixed[2].get().int == 1001)

                // Many concurrent senders share the connection; each gets its own reply.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            let reply = try await client.send(["ECHO", "value-\(index)"])
                            #expect(reply.string == "value-\(index)")
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test("pub/sub delivers a message published by another client", arguments: [RedisProtocolVersion.resp3, .resp2])
    func pubSub(version: RedisProtocolVersion) async throws {
        try await withRedisServer { server in
            var configuration = server.configuration
            configuration.protocolVersion = version
            try await withSubscriber(configuration, channels: ["pool"]) { subscriber, events in
                try await waitUntil("first resync") { events.all.contains(.resynced) }
                try await subscriber.subscribe(["other"])
                try await withClient(server.configuration) { publisher in
                    #expect(try await publisher.send(["PUBLISH", "pool", "hello"]).int == 1)
                    #expect(try await publisher.send(["PUBLISH", "other", "second"]).int == 1)
                    #expect(try await publisher.send(["PUBLISH", "nobody", "x"]).int == 0)
                    try await waitUntil("two messages") { events.all.count >= 3 }
                    #expect(
                        events.all == [
                            .resynced,
                            .message(RedisMessage(channel: "pool", payload: ByteBuffer(string: "hello"))),
                            .message(RedisMessage(channel: "other", payload: ByteBuffer(string: "second"))),
                        ])
                    subscriber.unsubscribe(["other"])
                    try await waitUntil("unsubscribed") { try await publisher.send(["PUBLISH", "other", "gone"]).int == 0 }
                }
            }
        }
    }

    @Test("the subscriber's health-check PINGs are answered by a real server and keep the subscription", arguments: [RedisProtocolVersion.resp3, .resp2])
    func healthCheckKeepsTheSubscription(version: RedisProtocolVersion) async throws {
        try await withRedisServer { server in
            var configuration = server.configuration
            configuration.protocolVersion = version
            configuration.healthCheckInterval = .milliseconds(50)
            configuration.commandTimeout = .milliseconds(500)
            try await withSubscriber(configuration, channels: ["pool"]) { _, events in
                try await waitUntil("first resync") { events.all.contains(.resynced) }
                try await withClient(server.configuration) { publisher in
                    // Twenty health checks or so go by, every one answered.
                    try await waitUntil("PINGs counted by the server") {
                        let stats = try await publisher.send(["INFO", "commandstats"]).string ?? ""
                        let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_ping:") } ?? ""
                        return Int(line.split(separator: "=")[safe: 1]?.split(separator: ",").first ?? "") ?? 0 >= 20
                    }
                    #expect(try await publisher.send(["PUBLISH", "pool", "still here"]).int == 1)
                    try await waitUntil("the message") { events.all.count >= 2 }
                    #expect(events.all == [.resynced, .message(RedisMessage(channel: "pool", payload: ByteBuffer(string: "still here")))])
                }
            }
        }
    }

    @Test("RESP3 push frames (CLIENT TRACKING invalidations) never disturb replies")
    func pushFramesDoNotDisturbReplies() async throws {
        try await withRedisServer { server in
            try await withClient(server.configuration) { writer in
                try await withClient(server.configuration) { client in
                    let pushes = EventLog<RESPValue>()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { for await push in client.pushes { pushes.append(push) } }
                        #expect(try await client.send(["CLIENT", "TRACKING", "ON"]).string == "OK")
                        for round in 0..<50 {
                            _ = try await client.send(["GET", "tracked"])
                            _ = try await writer.send(["SET", "tracked", "\(round)"])
                            // Replies keep matching while invalidations arrive in between.
                            let replies = try await client.pipeline((0..<20).map { ["ECHO", "r\(round)-\($0)"] })
                            #expect(try replies.map { try $0.get().string } == (0..<20).map { "r\(round)-\($0)" })
                        }
                        try await waitUntil("invalidations") { pushes.all.count >= 10 }
                        client.close()
                        try await group.waitForAll()
                    }
                    #expect(pushes.all.allSatisfy { $0.array?.first?.string == "invalidate" })
                }
            }
        }
    }

    @Test("EVALSHA falls back to EVAL after SCRIPT FLUSH; our SHA-1 is Redis's")
    func scripts() async throws {
        try await withRedisServer { server in
            try await withClient(server.configuration) { client in
                let script = RedisScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
                #expect(try await client.send(["SCRIPT", "LOAD", script.source]).string == script.sha1)
                let first = try await client.evalScript(script, keys: ["n"], args: ["a"])
                #expect(first.array == [.bulk("n"), .bulk("a"), .integer(1)])
                _ = try await client.send(["SCRIPT", "FLUSH"])
                #expect(try await client.send(["SCRIPT", "EXISTS", script.sha1]).array == [.integer(0)])
                #expect(try await client.evalScript(script, keys: ["n"], args: ["b"]).array?.last == .integer(2))
                #expect(try await client.send(["SCRIPT", "EXISTS", script.sha1]).array == [.integer(1)])
                await #expect(throws: RedisError.self) { try await client.evalScript(RedisScript("return redis.call('NOPE')")) }
            }
        }
    }

    @Test("a command without a reply times out, and the client reconnects by itself")
    func commandTimeout() async throws {
        try await withRedisServer { server in
            var configuration = server.configuration
            configuration.commandTimeout = .milliseconds(200)
            try await withClient(server.configuration) { admin in
                try await withClient(configuration) { client in
                    _ = try await admin.send(["CLIENT", "PAUSE", "1500", "ALL"])
                    let clock = ContinuousClock()
                    let start = clock.now
                    await #expect(throws: RedisError.timeout) { try await client.send(["PING"]) }
                    #expect(clock.now - start < .seconds(1))
                    try await waitUntil("connection dropped") { !client.isConnected }
                    try await waitUntil("reconnected after the pause") { client.isConnected }
                    #expect(try await client.send(["PING"]).string == "PONG")
                }
            }
        }
    }

    @Test("after SIGKILL commands fail fast; after a restart client and subscriber recover and resync")
    func reconnect() async throws {
        try await withRedisServer { server in
            var configuration = server.configuration
            configuration.reconnectMaximumDelay = .milliseconds(300)
            try await withSubscriber(configuration, channels: ["pool"]) { subscriber, events in
                try await waitUntil("first resync") { events.all == [.resynced] }
                try await withClient(configuration) { client in
                    let states = EventLog<RedisConnectionState>()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let stream = client.connectionStates()
                        group.addTask { for await state in stream { states.append(state) } }

                        // A command blocked in the server is in flight when the server dies.
                        group.addTask {
                            await #expect(throws: RedisError.connectionLost) { try await client.send(["BLPOP", "never", "5"]) }
                        }
                        _ = try await withClient(configuration) { admin in
                            try await waitUntil("BLPOP blocked") {
                                try await admin.send(["INFO", "clients"]).string?.contains("blocked_clients:1") == true
                            }
                        }
                        server.kill()
                        try await waitUntil("client sees the drop") { !client.isConnected }
                        // Failing fast is the error itself: `.notConnected` is thrown only by a command
                        // refused at once (one queued until a reconnect or its timeout would end otherwise).
                        await #expect(throws: RedisError.notConnected) { try await client.send(["PING"]) }
                        try await waitUntil("subscriber sees the drop") { events.all.contains(.disconnected) }

                        try await server.start()
                        try await waitUntil("client reconnected") { client.isConnected }
                        #expect(try await client.send(["PING"]).string == "PONG")
                        try await waitUntil("subscriber resynced") { events.all.filter { $0 == .resynced }.count == 2 }
                        #expect(events.all == [.resynced, .disconnected, .resynced])
                        #expect(try await client.send(["PUBLISH", "pool", "after"]).int == 1)
                        try await waitUntil("message after resync") { events.all.count == 4 }
                        #expect(events.all.last == .message(RedisMessage(channel: "pool", payload: ByteBuffer(string: "after"))))
                        #expect(subscriber.isConnected)

                        client.close()
                        try await group.waitForAll()
                    }
                    #expect(states.all.first == .connected)
                    #expect(states.all.contains(.disconnected))
                    #expect(states.all.suffix(2) == [.connected, .closed])
                    await #expect(throws: RedisError.closed) { try await client.send(["PING"]) }
                }
            }
        }
    }

    @Test("close() ends run() and later commands fail with .closed")
    func closeEndsRun() async throws {
        try await withRedisServer { server in
            let client = try await withClient(server.configuration) { client in client }
            #expect(!client.isConnected)
            await #expect(throws: RedisError.closed) { try await client.send(["PING"]) }
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
