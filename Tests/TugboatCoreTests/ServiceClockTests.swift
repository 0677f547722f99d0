import Foundation
import Synchronization
import Testing
import TestSupport
import TugboatCore

@Suite("ServiceClock: a service's time, continuous or injected")
struct ServiceClockTests {
    @Test("an injected clock moves now and the date together, and only when it is moved")
    func injectedTimeline() {
        let manual = ManualClock()
        let clock = ServiceClock(manual)
        let (now, date) = (clock.now, clock.date)
        #expect(clock.now == now && clock.date == date, "time stood still")
        manual.advance(by: .milliseconds(2500))
        #expect(clock.now - now == .milliseconds(2500))
        #expect(abs(clock.date.timeIntervalSince(date) - 2.5) < 0.000_001)
    }

    @Test("a sleep returns when the injected clock passes its deadline, not before; cancelling it ends it")
    func sleeps() async throws {
        let manual = ManualClock()
        let clock = ServiceClock(manual)
        let woke = Atomic(false)
        let sleeper = Task {
            try await clock.sleep(for: .seconds(10))
            woke.store(true, ordering: .relaxed)
        }
        try await waitUntil("the sleep to start") { manual.sleepers == 1 }
        manual.advance(by: .seconds(9))
        let wokeEarly = woke.load(ordering: .relaxed)
        #expect(manual.sleepers == 1 && !wokeEarly)
        manual.advance(by: .seconds(1))
        try await sleeper.value
        let wokeAtDeadline = woke.load(ordering: .relaxed)
        #expect(wokeAtDeadline)

        let cancelled = Task { try await clock.sleep(for: .seconds(10)) }
        try await waitUntil("the second sleep to start") { manual.sleepers == 1 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }

    @Test("the continuous clock is the real one")
    func continuous() async throws {
        let clock = ServiceClock.continuous
        let start = clock.now
        #expect(abs(clock.date.timeIntervalSinceNow) < 1)
        try await clock.sleep(for: .milliseconds(5))
        #expect(clock.now - start >= .milliseconds(5))
        #expect(start <= ContinuousClock.now)
    }
}
