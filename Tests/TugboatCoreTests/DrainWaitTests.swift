import Synchronization
import Testing
import TestSupport
import TugboatCore

@Suite("DrainWait: a drain waited out on a clock")
struct DrainWaitTests {
    @Test("done at once: no sleep")
    func doneAtOnce() async {
        let clock = ManualClock()
        #expect(await DrainWait.until(within: .seconds(30), every: .milliseconds(50), clock: clock) { true })
        #expect(clock.now.offset == .zero)
    }

    @Test("asks every interval and ends as soon as the drain is done")
    func endsEarly() async throws {
        let clock = ManualClock()
        let asked = Atomic<Int>(0)
        let task = Task { await DrainWait.until(within: .seconds(30), every: .milliseconds(50), clock: clock) {
            asked.add(1, ordering: .relaxed).newValue >= 3
        } }
        for _ in 0..<2 {
            try await waitUntil("the wait to sleep") { clock.sleepers == 1 }
            clock.advance(by: .milliseconds(50))
        }
        #expect(await task.value)
        #expect(asked.load(ordering: .relaxed) == 3)
    }

    @Test("gives up at the limit, not an interval later")
    func limit() async throws {
        let clock = ManualClock()
        let task = Task { await DrainWait.until(within: .milliseconds(120), every: .milliseconds(50), clock: clock) { false } }
        for step in [50, 50, 20] {
            try await waitUntil("the wait to sleep") { clock.sleepers == 1 }
            clock.advance(by: .milliseconds(step))
        }
        #expect(await task.value == false)
        #expect(clock.now.offset == .milliseconds(120))
    }

    @Test("cancelled: ends without waiting for the limit")
    func cancelled() async throws {
        let clock = ManualClock()
        let task = Task { await DrainWait.until(within: .seconds(30), every: .seconds(1), clock: clock) { false } }
        try await waitUntil("the wait to sleep") { clock.sleepers == 1 }
        task.cancel()
        #expect(await task.value == false)
    }
}
