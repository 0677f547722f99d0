import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestSupport
import TugboatCore
@testable import TugboatProxy

/// A backend on SwiftNIO that answers every request (pipelined ones in order) with its target
/// as the body.
private final class TargetEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var pending = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        while let view = pending.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) {
            let head = pending.readString(length: view.upperBound - pending.readerIndex) ?? ""
            let target = head.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
            let response = "HTTP/1.1 200 OK\r\nContent-Length: \(target.utf8.count)\r\n\r\n\(target)"
            context.write(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        }
        context.flush()
    }
}

/// Each loop's busy fraction as the test sets it.
final class BusyDial: Sendable {
    private let values = Mutex<[Double]>([0, 0])
    func set(_ busy: [Double]) { values.withLock { $0 = busy } }
    func busy(_ index: Int) -> Double { values.withLock { $0[index] } }
}

/// `threads: auto` on a real listener with two event loops: connections gather on one loop while
/// it keeps up, spread over both when it is busy, and gather again — each on its own TCP
/// connection throughout, with no request lost or answered out of order. The loops' load is set
/// by the test (the decision itself is LoopSpreadTests'); everything else is real sockets.
@Suite("Connections moving between event loops (threads: auto)", .serialized)
struct LoopMoveTests {
    /// One request on a blocking socket; the body of its response.
    static func exchange(_ fd: Int32, _ targets: [String]) throws -> [String] {
        let request = targets.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
        guard send(fd, request, request.utf8.count, Int32(MSG_NOSIGNAL)) == request.utf8.count else { throw TimedOut("send failed") }
        var received: [UInt8] = []
        var bodies: [String] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bodies.count < targets.count {
            if let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                guard head.hasPrefix("HTTP/1.1 200"),
                      let lengthLine = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
                      let length = Int(lengthLine.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) else {
                    throw TimedOut("unexpected response: \(head)")
                }
                if received.count >= end.upperBound + length {
                    bodies.append(String(decoding: received[end.upperBound..<(end.upperBound + length)], as: UTF8.self))
                    received.removeFirst(end.upperBound + length)
                    continue
                }
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { throw TimedOut("no response (recv \(count), errno \(errno))") }
            received += chunk[0..<count]
        }
        return bodies
    }

    @Test("gathered on one loop, spread over two when busy, gathered again when quiet; every request answered in order on its own connection")
    func gatherSpreadGather() async throws {
        try await Self.withGroups(Self.gatherSpreadGather)
    }

    @Test("connections parked on a loop that takes none come back to an active one, without waiting for a response there")
    func parkedComeBackToActiveLoop() async throws {
        try await Self.withGroups(Self.parkedComeBackToActiveLoop)
    }

    static func parkedComeBackToActiveLoop(group: MultiThreadedEventLoopGroup, backendGroup: MultiThreadedEventLoopGroup) async throws {
        let (dataPlane, port) = try await startProxy(group: group, backendGroup: backendGroup, busy: BusyDial())
        defer { dataPlane.shutdown() }
        let spread = try #require(dataPlane.loopSpread)
        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        // Requests spaced wider than the parking delay: a connection parks between any two, so
        // the between-requests move never sees it idle on loop 1 with its move known.
        try Self.connect(6, port: port, target: { "/p\($0)-0" }, into: &clients)
        try await waitUntil("all six parked") { dataPlane.connections.parked == 6 }
        #expect(spread.active == 1)
        for (index, fd) in clients.enumerated() {
            #expect(try Self.exchange(fd, ["/p\(index)-1"]) == ["/p\(index)-1"])
        }
        #expect(spread.connections(onLoop: 0) == 6 && spread.connections(onLoop: 1) == 0,
                "loop 0: \(spread.connections(onLoop: 0)), loop 1: \(spread.connections(onLoop: 1))")
        #expect(dataPlane.connections.open == 6)
    }

    @Test("near max-connections nothing moves (a move holds a second descriptor for a moment); every request is still answered")
    func noMovesNearTheLimit() async throws {
        try await Self.withGroups(Self.noMovesNearTheLimit)
    }

    /// Opens `count` connections into `clients` (the caller closes them), each answered once:
    /// connection `index` asks for `target(index)`.
    static func connect(_ count: Int, port: Int, target: (Int) -> String, into clients: inout [Int32]) throws {
        for index in 0..<count {
            let fd = try #require(connectLoopback(port: port, timeout: 5))
            clients.append(fd)
            #expect(try exchange(fd, [target(index)]) == [target(index)])
        }
    }

    /// Runs `body` with a two-loop group for the proxy and a one-loop group for the backend, and
    /// shuts both down afterwards (also when `body` throws).
    static func withGroups(_ body: (_ group: MultiThreadedEventLoopGroup, _ backendGroup: MultiThreadedEventLoopGroup) async throws -> Void)
        async throws {
        let backendGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var failure: (any Error)?
        do { try await body(group, backendGroup) } catch { failure = error }
        try await group.shutdownGracefully()
        try await backendGroup.shutdownGracefully()
        if let failure { throw failure }
    }

    static func noMovesNearTheLimit(group: MultiThreadedEventLoopGroup, backendGroup: MultiThreadedEventLoopGroup) async throws {
        let (dataPlane, port) = try await startProxy(group: group, backendGroup: backendGroup, busy: BusyDial()) {
            $0.maxConnections = 6
        }
        defer { dataPlane.shutdown() }
        let spread = try #require(dataPlane.loopSpread)
        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        try Self.connect(6, port: port, target: { "/c\($0)" }, into: &clients)
        // Loop 1 is inactive and owes its connections to loop 0, but six open of at most six:
        // over a second of requests (four samples) none moves.
        let end = ContinuousClock.now + .seconds(1)
        var round = 0
        while ContinuousClock.now < end {
            round += 1
            for (index, fd) in clients.enumerated() {
                #expect(try Self.exchange(fd, ["/r\(round)-\(index)"]) == ["/r\(round)-\(index)"])
            }
        }
        #expect(spread.moved == 0)
        #expect(spread.connections(onLoop: 1) > 0, "NIO dealt none to loop 1?")
        #expect(dataPlane.connections.open == 6)
    }

    /// A proxy on `group` in front of a target-echo backend on `backendGroup`, `threads: auto`
    /// with the loops' busy fractions from `busy`.
    static func startProxy(group: MultiThreadedEventLoopGroup, backendGroup: MultiThreadedEventLoopGroup, busy dial: BusyDial,
                           configure: (inout ProxyConfiguration) -> Void = { _ in }) async throws -> (ProxyDataPlane, Int) {
        let backend = try await ServerBootstrap(group: backendGroup)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(TargetEchoHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = ProxyConfiguration(listen: HostPort(host: "127.0.0.1", port: 0))
        configuration.spreadLoops = true
        configure(&configuration)
        let dataPlane = ProxyDataPlane(group: group, configuration: configuration, onPassiveFailure: { _, _ in },
                                       busyOverride: { dial.busy($0) })
        let backendAddress = HostPort(host: "127.0.0.1", port: backend.localAddress!.port!)
        dataPlane.apply(PoolSnapshot(version: 1, backends: [BackendInfo(address: backendAddress, state: .healthy)]))
        let port = try await ProxyServer(dataPlane: dataPlane, logger: Logger(label: "test")).bind().port!
        return (dataPlane, port)
    }

    static func gatherSpreadGather(group: MultiThreadedEventLoopGroup, backendGroup: MultiThreadedEventLoopGroup) async throws {
        let dial = BusyDial()
        let (dataPlane, port) = try await startProxy(group: group, backendGroup: backendGroup, busy: dial)
        defer { dataPlane.shutdown() }
        let spread = try #require(dataPlane.loopSpread)
        #expect(spread.loops == 2 && spread.active == 1)

        // Quiet: six new connections (NIO deals them to both loops in turn) all end up on loop 0,
        // those on loop 1 moving after a response.
        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        try Self.connect(6, port: port, target: { "/c\($0)-0" }, into: &clients)

        /// Requests on every connection (one pipelined pair on the first) until `done` holds.
        var round = 1
        func serveUntil(_ what: String, _ done: @escaping () -> Bool) async throws {
            try await waitUntil(what, timeout: .seconds(15)) {
                for (index, fd) in clients.enumerated() {
                    let targets = index == 0 ? ["/c0-\(round)a", "/c0-\(round)b"] : ["/c\(index)-\(round)"]
                    let answers = try Self.exchange(fd, targets)
                    #expect(answers == targets)
                }
                round += 1
                return done()
            }
        }

        try await serveUntil("all six on loop 0") { spread.connections(onLoop: 0) == 6 && spread.connections(onLoop: 1) == 0 }
        #expect(spread.moved >= 1, "no connection accepted on loop 1 was moved")

        // Busy: loop 1 joins and half of the connections move to it between their requests.
        dial.set([0.9, 0])
        try await waitUntil("loop 1 joins") { spread.active == 2 }
        try await serveUntil("three connections on each loop") {
            spread.connections(onLoop: 0) == 3 && spread.connections(onLoop: 1) == 3
        }
        let movedWhileSpreading = spread.moved

        // Quiet again: loop 1 leaves and its connections come back to loop 0.
        dial.set([0.2, 0.2])
        try await waitUntil("loop 1 leaves") { spread.active == 1 }
        try await serveUntil("all six back on loop 0") {
            spread.connections(onLoop: 0) == 6 && spread.connections(onLoop: 1) == 0
        }
        #expect(spread.moved >= movedWhileSpreading + 3)
        #expect(dataPlane.connections.open == 6, "a move lost or doubled a connection's count")
        // The same six TCP connections served throughout: none was closed by a move.
        for (index, fd) in clients.enumerated() { #expect(try Self.exchange(fd, ["/last\(index)"]) == ["/last\(index)"]) }
    }

    @Test("a fixed thread count (threads: N) never moves connections; a TLS listener places HTTP/2 ones only when it speaks HTTP/2")
    func onlyAutoMoves() {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let fixed = ProxyDataPlane(group: group, configuration: ProxyConfiguration(), onPassiveFailure: { _, _ in })
        #expect(fixed.loopSpread == nil)
        fixed.shutdown()
        var tls = ProxyConfiguration()
        tls.spreadLoops = true
        tls.https = true
        let overTLS = ProxyDataPlane(group: group, configuration: tls, onPassiveFailure: { _, _ in })
        #expect(overTLS.loopSpread?.placesHTTP2 == true)
        overTLS.shutdown()
        tls.http2 = false
        let http1OverTLS = ProxyDataPlane(group: group, configuration: tls, onPassiveFailure: { _, _ in })
        #expect(http1OverTLS.loopSpread == nil, "nothing to place: HTTP/1.1 over TLS stays where it is accepted")
        http1OverTLS.shutdown()
    }
}
