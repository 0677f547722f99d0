import Testing
@testable import TugboatProxy

@Suite("Splice relay decisions")
struct SpliceRelayTests {
    @Test("the pipe goes to the client first, the backend is asked for no more than the body has left, and the body ends exactly at its length")
    func clientFirstAndExactLength() {
        var relay = SpliceRelay(remaining: 150_000, capacity: 65_536)
        relay.beginTurn()
        #expect(relay.next == .fromBackend(65_536))
        #expect(relay.record(.moved(40_000), of: .fromBackend(65_536)) == .next)
        #expect(relay.next == .toClient(40_000))
        #expect(relay.record(.moved(30_000), of: .toClient(40_000)) == .next)
        #expect(relay.next == .toClient(10_000))
        #expect(relay.record(.moved(10_000), of: .toClient(10_000)) == .next)
        #expect(relay.next == .fromBackend(65_536))
        #expect(relay.record(.moved(65_536), of: .fromBackend(65_536)) == .next)
        #expect(relay.record(.moved(65_536), of: .toClient(65_536)) == .next)
        #expect(relay.next == .fromBackend(150_000 - 40_000 - 65_536))
        #expect(relay.record(.moved(44_464), of: .fromBackend(44_464)) == .next)
        #expect(relay.record(.moved(44_464), of: .toClient(44_464)) == .next)
        #expect(relay.next == .done)
        #expect(relay.length == 150_000)
    }

    @Test("a client that takes no more: the pipe is topped up from the backend, then a bounded part goes through the channel")
    func clientFull() {
        var relay = SpliceRelay(remaining: 1 << 20, capacity: 262_144)
        relay.beginTurn()
        _ = relay.record(.moved(100_000), of: .fromBackend(262_144))
        #expect(relay.record(.wouldBlock, of: .toClient(100_000)) == .next)
        // The backend keeps sending into the room left.
        #expect(relay.next == .fromBackend(162_144))
        _ = relay.record(.moved(162_144), of: .fromBackend(162_144))
        // Full pipe, full client: 16 KiB through the channel, whose completion starts a new turn.
        #expect(relay.next == .writeThroughChannel(SpliceRelay.channelWriteLimit))
        relay.tookOut(SpliceRelay.channelWriteLimit)
        relay.beginTurn()
        #expect(relay.next == .toClient(262_144 - SpliceRelay.channelWriteLimit))
    }

    @Test("nothing from the backend: the pipe is emptied, then the backend is waited for; with little in the pipe, all of it goes through the channel")
    func backendDry() {
        var relay = SpliceRelay(remaining: 1 << 20, capacity: 262_144)
        relay.beginTurn()
        #expect(relay.record(.wouldBlock, of: .fromBackend(262_144)) == .next)
        #expect(relay.next == .waitForBackend)
        relay.beginTurn()
        _ = relay.record(.moved(100), of: .fromBackend(262_144))
        _ = relay.record(.wouldBlock, of: .fromBackend(262_044))
        #expect(relay.next == .toClient(100))
        _ = relay.record(.wouldBlock, of: .toClient(100))
        #expect(relay.next == .writeThroughChannel(100))
    }

    @Test("a backend that closes or fails before the end, and a client whose socket fails, end the relay")
    func failures() {
        var relay = SpliceRelay(remaining: 100_000, capacity: 65_536)
        #expect(relay.record(.endOfInput, of: .fromBackend(65_536)) == .backendFailed)
        #expect(relay.record(.failed(errno: 104), of: .fromBackend(65_536)) == .backendFailed)
        _ = relay.record(.moved(1000), of: .fromBackend(65_536))
        #expect(relay.record(.failed(errno: 32), of: .toClient(1000)) == .clientFailed)
        #expect(relay.record(.endOfInput, of: .toClient(1000)) == .clientFailed)
    }

    @Test("a fast pair of sockets yields the event loop after each turn's budget")
    func yieldsAfterBudget() {
        var relay = SpliceRelay(remaining: 8 << 20, capacity: 262_144)
        relay.beginTurn()
        var actions: [SpliceRelay.Action] = []
        while actions.last != .yield {
            let step = relay.next
            switch step {
            case .toClient(let count), .fromBackend(let count): actions.append(relay.record(.moved(count), of: step))
            default: Issue.record("unexpected \(step)"); return
            }
        }
        // 256 KiB in, out, in, out: 1 MiB of moves, then the turn is over (not before).
        #expect(actions == [.next, .next, .next, .yield])
        relay.beginTurn()
        #expect(relay.record(.moved(1), of: relay.next) == .next)
    }
}
