import Testing
import TestSupport
import TugboatCore

@Suite("Backoff (pure): the one exponential backoff with jitter")
struct BackoffTests {
    @Test("doubles from the first delay and stays at the maximum, however many attempts")
    func doublesAndCaps() {
        let backoff = Backoff(first: .seconds(1), maximum: .seconds(10))
        #expect((1...6).map { backoff.delay(afterAttempt: $0, random: 0.7) } == [1, 2, 4, 8, 10, 10].map { Duration.seconds($0) })
        #expect(backoff.delay(afterAttempt: Int.max, random: 0) == .seconds(10))
        #expect(backoff.delay(afterAttempt: 0, random: 0) == .seconds(1), "no failure yet counts as the first")
    }

    @Test("a first delay above the maximum is capped")
    func firstAboveMaximum() {
        #expect(Backoff(first: .seconds(5), maximum: .seconds(2)).delay(afterAttempt: 1, random: 0) == .seconds(2))
    }

    @Test("jitter spreads the capped delay: ±fraction, or between two factors")
    func jitter() {
        let spread = Backoff(first: .seconds(60), maximum: .seconds(3600), jitter: .spread(0.2))
        #expect(about(spread.delay(afterAttempt: 1, random: 0), .seconds(48)))
        #expect(about(spread.delay(afterAttempt: 1, random: 1), .seconds(72)))
        #expect(about(spread.delay(afterAttempt: 1, random: 5), .seconds(72)), "the draw is clamped to 0…1")
        let full = Backoff(first: .seconds(4), maximum: .seconds(4), jitter: .between(0.5, 1))
        #expect(about(full.delay(afterAttempt: 3, random: 0), .seconds(2)))
        for _ in 0..<100 {
            let delay = full.delay(afterAttempt: 3)
            #expect(delay >= .seconds(2) && delay <= .seconds(4))
        }
    }
}

/// Equal but for floating-point rounding in the jitter's multiplication (well under a microsecond).
private func about(_ delay: Duration, _ expected: Duration) -> Bool {
    delay > expected - .microseconds(1) && delay < expected + .microseconds(1)
}
