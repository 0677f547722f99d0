import Testing
@testable import TugboatProxy

@Suite("Splice relay decisions")
struct SpliceRelayTests {
    @Test("the pipe is emptied into the client before more is taken from the backend, and the body ends exactly at its length")
    func drainsBeforeFilling() {
        var relay = SpliceRelay(remaining: 150_000, capacity: 65_536)
        #expect(relay.next == .fromBackend(65_536))
        #expect(relay.record(.moved(40_000), of: .fromBackend(65_536)) == .next)
        #expect(relay.next == .toClient(40_000))
        #expect(relay.record(.moved(30_000), of: .toClient(40_000)) == .next)
        #expect(relay.next == .toClient(10_000))
        #expect(relay.record(.moved(10_000), of: .toClient(10_000)) == .next)
        // Never asks the backend for more than the body has left.
        #expect(relay.record(.moved(65_536), of: .fromBackend(65_536)) == .next)
        #expect(relay.record(.moved(65_536), of: .toClient(65_536)) == .next)
        #expect(relay.next == .fromBackend(150_000 - 40_000 - 65_536))
        #expect(relay.record(.moved(44_464), of: .fromBackend(44_464)) == .next)
        #expect(relay.record(.moved(44_464), of: .toClient(44_464)) == .next)
        #expect(relay.next == .done)
        #expect(relay.length == 150_000)
    }

    @Test("nothing from the backend: wait for it; a client that cannot take more gets a bounded part through the channel")
    func waits() {
        var relay = SpliceRelay(remaining: 1 << 20, capacity: 262_144)
        #expect(relay.record(.wouldBlock, of: .fromBackend(262_144)) == .waitForBackend)
        #expect(relay.next == .fromBackend(262_144))
        _ = relay.record(.moved(200_000), of: .fromBackend(262_144))
        #expect(relay.record(.wouldBlock, of: .toClient(200_000)) == .writeThroughChannel(SpliceRelay.channelWriteLimit))
        relay.tookOut(SpliceRelay.channelWriteLimit)
        #expect(relay.next == .toClient(200_000 - SpliceRelay.channelWriteLimit))
        _ = relay.record(.moved(200_000 - SpliceRelay.channelWriteLimit - 100), of: .toClient(200_000 - SpliceRelay.channelWriteLimit))
        // Less than the limit left in the pipe: all of it.
        #expect(relay.record(.wouldBlock, of: .toClient(100)) == .writeThroughChannel(100))
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
            guard case .fromBackend(let count) = step else {
                if case .toClient(let count) = step { actions.append(relay.record(.moved(count), of: step)) }
                continue
            }
            actions.append(relay.record(.moved(count), of: step))
        }
        // 256 KiB in, out, in, out: 1 MiB of moves, then the turn is over (not before).
        #expect(actions == [.next, .next, .next, .yield])
        relay.beginTurn()
        #expect(relay.record(.moved(1), of: relay.next) == .next)
    }
}
