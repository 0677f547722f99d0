import NIOCore
import NIOEmbedded
import Testing
import TugboatCore
@testable import TugboatProxy

@Suite("Client writes sent at the end of the loop's turn (TurnEndFlushes)")
struct TurnEndFlushesTests {
    /// Records its flushes in a shared log; queues itself again once if asked to (a write made
    /// while the turn's flushes run).
    final class Flusher: TurnEndFlushing {
        let name: String
        let log: Log
        var queueAgainWith: ((Flusher) -> Void)?
        init(_ name: String, log: Log) { self.name = name; self.log = log }
        func flushAtTurnEnd() {
            log.entries.append(name)
            if let again = queueAgainWith {
                queueAgainWith = nil
                again(self)
            }
        }
    }
    final class Log { var entries: [String] = [] }

    static func loopContext() -> (EmbeddedEventLoop, LoopContext, Log) {
        let loop = EmbeddedEventLoop()
        return (loop, LoopContext(eventLoop: loop, configuration: ProxyConfiguration(), onPassiveFailure: { _, _ in }), Log())
    }

    @Test("each queued flusher flushes once, in the order queued; only the turn's first asks for a run")
    func orderAndFirst() {
        let log = Log()
        var flushes = TurnEndFlushes()
        let a = Flusher("a", log: log), b = Flusher("b", log: log), c = Flusher("c", log: log)
        let firsts = [flushes.add(a), flushes.add(b), flushes.add(c)]
        #expect(firsts == [true, false, false])
        #expect(log.entries.isEmpty, "nothing is sent before the turn ends")
        let turn = flushes.takeTurn()
        #expect(turn.map { ($0 as! Flusher).name } == ["a", "b", "c"])
        #expect(flushes.isEmpty)
        flushes.recycle(turn)
        #expect(flushes.takeTurn().isEmpty, "a turn with nothing queued has nothing to send")
        let next = flushes.add(b)
        #expect(next, "the next turn's first asks for a run again")
    }

    @Test("a flusher queued again while the turn's flushes run goes to the next turn, which it asks for")
    func queuedDuringRun() {
        let (loop, context, log) = Self.loopContext()
        defer { try? loop.syncShutdownGracefully() }
        let a = Flusher("a", log: log), b = Flusher("b", log: log)
        a.queueAgainWith = { context.flushAtEndOfTurn($0) }
        context.flushAtEndOfTurn(a)
        context.flushAtEndOfTurn(b)
        loop.run()
        #expect(log.entries == ["a", "b", "a"], "a's second flush after the first turn's")
    }

    @Test("a loop flushes what its handlers queued once its turn's tasks run, and not before")
    func loopRunsThemAtTurnEnd() {
        let (loop, context, log) = Self.loopContext()
        defer { try? loop.syncShutdownGracefully() }
        context.flushAtEndOfTurn(Flusher("a", log: log))
        context.flushAtEndOfTurn(Flusher("b", log: log))
        #expect(log.entries.isEmpty)
        loop.run()
        #expect(log.entries == ["a", "b"])
        context.flushAtEndOfTurn(Flusher("c", log: log))
        loop.run()
        #expect(log.entries == ["a", "b", "c"], "the next turn's writes get a run of their own")
    }
}
