import Dispatch
import Glibc
import NIOCore
import NIOPosix
import Testing
import TestSupport
@testable import TugboatProxy

/// `SendBatch`: a turn's sends to several real TCP sockets in one io_uring call, and
/// `DirectSocketWriter` taking its result. Skipped, and shown as skipped, where io_uring cannot be
/// used (the writers then send one by one, as `DirectSocketWriterTests` checks).
/// Handed to one other thread and read back only after it signalled.
private final class Handoff<T>: @unchecked Sendable {
    let body: () -> T
    var value: T?
    init(_ body: @escaping () -> T) { self.body = body }
}

@Suite("SendBatch: a turn's sends in one system call", .enabled(if: SendBatch() != nil, "io_uring cannot be used here"))
struct SendBatchTests {
    /// A connected TCP pair on loopback: the sending end (non-blocking, a small send buffer when
    /// asked) and the receiving end.
    static func pair(sendBuffer: Int32? = nil) throws -> (sender: Int32, receiver: Int32) {
        let (listener, port) = try #require(listenOnLoopback())
        defer { close(listener) }
        let sender = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(sender >= 0)
        if var size = sendBuffer {
            setsockopt(sender, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sender, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let receiver = accept(listener, nil, nil)
        try #require(receiver >= 0)
        _ = fcntl(sender, F_SETFL, fcntl(sender, F_GETFL) | O_NONBLOCK)
        return (sender, receiver)
    }

    /// Runs `body` on a thread of its own and fails (instead of hanging) if it has not returned
    /// within `seconds`: a send that waited for room would block the event loop for good.
    static func withinSeconds<T>(_ seconds: Int, _ body: @escaping () -> T) throws -> T {
        let handoff = Handoff(body)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { handoff.value = handoff.body(); done.signal() }
        try #require(done.wait(timeout: .now() + .seconds(seconds)) == .success, "the batch did not return within \(seconds) s")
        return try #require(handoff.value)
    }

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test("each socket gets its own buffers, in order, from one call; the results say how much each took")
    func severalSockets() throws {
        let batch = try #require(SendBatch())
        let pairs = try (0..<5).map { _ in try Self.pair() }
        defer { for (s, r) in pairs { close(s); close(r) } }
        var slots: [Int] = []
        var held: [[ByteBuffer]] = []
        for (index, (sender, _)) in pairs.enumerated() {
            let buffers = [Self.bytes("HTTP/1.1 200 OK\r\n"), Self.bytes("x-socket: \(index)\r\n\r\n"), Self.bytes("body \(index)")]
            held.append(buffers)
            slots.append(batch.add(sender, buffers[...]))
        }
        #expect(batch.submit())
        for (index, (_, receiver)) in pairs.enumerated() {
            let expected = held[index].map { String(buffer: $0) }.joined()
            #expect(batch.result(slots[index]) == expected.utf8.count)
            let received = DirectSocketWriterTests.receive(receiver, count: expected.utf8.count)
            #expect(String(decoding: received, as: UTF8.self) == expected)
        }
        batch.reset()
        #expect(batch.count == 0)
    }

    @Test("a socket with no room answers EAGAIN at once while the others are sent; one with some room takes part")
    func fullAndPartial() throws {
        let batch = try #require(SendBatch())
        let full = try Self.pair(sendBuffer: 4096)
        let partial = try Self.pair(sendBuffer: 4096)
        let open = try Self.pair()
        defer { for fd in [full.0, full.1, partial.0, partial.1, open.0, open.1] { close(fd) } }
        // Fill the first socket and its peer's receive buffer (kept small: no autotuning opens it
        // again) until the socket takes nothing more and stays without room.
        var small4k: Int32 = 4096
        setsockopt(full.receiver, SOL_SOCKET, SO_RCVBUF, &small4k, socklen_t(MemoryLayout<Int32>.size))
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        try waitUntilBlocking("the first socket stays full") {
            while chunk.withUnsafeBytes({ send(full.sender, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
            var room = pollfd(fd: full.sender, events: Int16(POLLOUT), revents: 0)
            return poll(&room, 1, 100) == 0
        }
        let big = ByteBuffer(repeating: 0x62, count: 8 * 1024 * 1024)
        let small = Self.bytes("still sent")
        let slots = [batch.add(full.sender, [small][...]), batch.add(partial.sender, [big][...]), batch.add(open.sender, [small][...])]
        let results = try Self.withinSeconds(10) { () -> [Int] in
            batch.submit()
            return slots.map { batch.result($0) }
        }
        #expect(results[0] == -Int(EAGAIN), "a full socket: \(results[0])")
        #expect(results[1] > 0 && results[1] < big.readableBytes, "a socket with some room: \(results[1]) of \(big.readableBytes)")
        #expect(results[2] == small.readableBytes)
        #expect(String(decoding: DirectSocketWriterTests.receive(open.receiver, count: small.readableBytes), as: UTF8.self) == "still sent")
    }

    @Test("a peer that reset the connection: an error for its entry (no SIGPIPE), the others are sent")
    func peerGone() throws {
        let batch = try #require(SendBatch())
        let gone = try Self.pair()
        let open = try Self.pair()
        defer { for fd in [gone.sender, open.0, open.1] { close(fd) } }
        var reset = linger(l_onoff: 1, l_linger: 0)
        setsockopt(gone.receiver, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        close(gone.receiver)
        try waitUntilBlocking("the reset reached the sender") {
            var probe = pollfd(fd: gone.sender, events: Int16(POLLIN), revents: 0)
            return poll(&probe, 1, 0) == 1 && probe.revents & Int16(POLLHUP | POLLERR) != 0
        }
        let text = Self.bytes("for the open one")
        let slots = [batch.add(gone.sender, [text][...]), batch.add(open.sender, [text][...])]
        batch.submit()
        #expect(batch.result(slots[0]) < 0)
        #expect(batch.result(slots[1]) == text.readableBytes)
    }

    @Test("DirectSocketWriters in a batch: each one's bytes go out once, in order; what a socket does not take follows through its channel")
    func writersTakeTheBatchResult() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handlers = [DirectSocketWriterTests.WritingHandler(direct: true), DirectSocketWriterTests.WritingHandler(direct: true)]
        var channels: [Channel] = []
        var peers: [Int32] = []
        for handler in handlers {
            let (channel, peer) = try await DirectSocketWriterTests.connect(handler, group: group)
            channels.append(channel)
            peers.append(peer)
        }
        defer { for peer in peers { close(peer) } }
        let head = ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 4194304\r\n\r\n")
        let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: 4 * 1024 * 1024)  // more than a socket takes at once
        let small = ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n")
        try await channels[0].eventLoop.submit {
            let batch = try #require(SendBatch())
            let contexts = handlers.map { $0.context! }
            handlers[0].socket.write(head, context: contexts[0])
            handlers[0].socket.write(body, context: contexts[0])
            handlers[1].socket.write(small, context: contexts[1])
            for (handler, context) in zip(handlers, contexts) { handler.socket.prepareSend(context: context, into: batch) }
            #expect(batch.count == 2)
            batch.submit()
            for (handler, context) in zip(handlers, contexts) { handler.socket.flush(context: context) }
            batch.reset()
        }.get()
        let large = DirectSocketWriterTests.receive(peers[0], count: head.readableBytes + body.readableBytes)
        #expect(large.count == head.readableBytes + body.readableBytes)
        #expect(large.prefix(head.readableBytes).elementsEqual(head.readableBytesView))
        #expect(large.dropFirst(head.readableBytes).allSatisfy { $0 == UInt8(ascii: "a") })
        let other = DirectSocketWriterTests.receive(peers[1], count: small.readableBytes)
        #expect(String(decoding: other, as: UTF8.self) == "HTTP/1.1 204 No Content\r\n\r\n")
        // Nothing sent twice: after everything written, the peers read the end of the stream.
        for channel in channels { try await channel.close() }
        for peer in peers { #expect(Self.readToEnd(peer).isEmpty, "bytes after the last one written") }
        try await group.shutdownGracefully()
    }

    /// Reads, blocking, until the end of the stream (or 30 s): what came after the bytes expected.
    static func readToEnd(_ fd: Int32) -> [UInt8] {
        var limit = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var rest: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return rest }
            rest += chunk[0..<n]
        }
    }
}
