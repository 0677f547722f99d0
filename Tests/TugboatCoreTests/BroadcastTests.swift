import Testing
import TestSupport
import TugboatCore

@Suite("Broadcast: the one fan-out")
struct BroadcastTests {
    @Test("every stream gets every value published after it subscribed, in order")
    func fanOut() async {
        let broadcast = Broadcast<Int>(replaysLatest: false)
        broadcast.publish(0)
        let first = broadcast.stream(), second = broadcast.stream()
        for value in 1...3 { broadcast.publish(value) }
        broadcast.finish()
        #expect(await Array(first) == [1, 2, 3])
        #expect(await Array(second) == [1, 2, 3])
    }

    @Test("with replay a new stream starts with the latest value, even after the end")
    func replay() async {
        let broadcast = Broadcast<String>()
        broadcast.publish("a")
        broadcast.publish("b")
        let stream = broadcast.stream()
        broadcast.publish("c")
        broadcast.finish()
        broadcast.publish("after the end")
        #expect(await Array(stream) == ["b", "c"])
        #expect(await Array(broadcast.stream()) == ["c"])
        #expect(broadcast.latest == "c")
    }

    @Test("a slow stream keeps the newest values")
    func buffering() async throws {
        let broadcast = Broadcast<Int>(bufferSize: 2, replaysLatest: false)
        let slow = broadcast.stream()
        for value in 1...5 { broadcast.publish(value) }
        broadcast.finish()
        #expect(await Array(slow) == [4, 5])
    }
}

private extension Array {
    init<S: AsyncSequence>(_ sequence: S) async where S.Element == Element, S.Failure == Never {
        var all: [Element] = []
        for await element in sequence { all.append(element) }
        self = all
    }
}
