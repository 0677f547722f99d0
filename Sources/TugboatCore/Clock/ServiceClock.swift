import Foundation

/// The time a service reads and waits on: the continuous clock (and the wall clock) in production,
/// any other `Clock` — a test's manual one — when injected. `Scaler`, `AlertManager`,
/// `OutboxDispatcher` and `CrashForensics` take one, so their tests move time instead of waiting
/// for it.
///
/// The pure state machines take `ContinuousClock.Instant`s; an injected clock's time is laid on
/// that timeline (``now`` is the instant this value was made plus the time passed on the clock),
/// and ``date`` likewise on the wall clock, so stored times and time-outs move with it.
package struct ServiceClock: Clock, Sendable {
    package typealias Instant = ContinuousClock.Instant

    private let reading: @Sendable () -> (now: ContinuousClock.Instant, date: Date)
    private let sleeper: @Sendable (ContinuousClock.Instant) async throws -> Void

    /// The continuous clock and the wall clock.
    package static var continuous: ServiceClock {
        ServiceClock(reading: { (ContinuousClock.now, Date()) },
                     sleeper: { try await ContinuousClock().sleep(until: $0, tolerance: nil) })
    }

    private init(reading: @escaping @Sendable () -> (now: ContinuousClock.Instant, date: Date),
                 sleeper: @escaping @Sendable (ContinuousClock.Instant) async throws -> Void) {
        self.reading = reading
        self.sleeper = sleeper
    }

    /// `clock`'s time from now on, laid on the continuous and wall clocks as they read now.
    package init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let start = clock.now, origin = ContinuousClock.now, wallOrigin = Date()
        self.reading = {
            let passed = start.duration(to: clock.now)
            return (origin + passed, wallOrigin.addingTimeInterval(passed.seconds))
        }
        self.sleeper = { deadline in
            try await clock.sleep(until: start.advanced(by: origin.duration(to: deadline)), tolerance: nil)
        }
    }

    /// Now, on the timeline the state machines use.
    package var now: ContinuousClock.Instant { reading().now }

    /// Now as a date (what is stored and shown).
    package var date: Date { reading().date }

    package var minimumResolution: Duration { .zero }

    /// Waits until `deadline` (throws `CancellationError` when the task is cancelled).
    package func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration? = nil) async throws {
        try await sleeper(deadline)
    }
}
