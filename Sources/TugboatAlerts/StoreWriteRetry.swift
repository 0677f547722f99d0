import Foundation

/// When to try the store again after it refused a write (disk full, out of descriptors), and
/// whether it is healthy. Pure: time comes in with each call.
struct StoreWriteRetry: Sendable {
    /// The backoff between attempts (only its delays are used; the store is tried until it works).
    let policy: OutboxDispatcher.RetryPolicy
    /// Refused writes in a row; zero while the store is healthy.
    private(set) var failures = 0
    private var nextAttempt: Date?

    init(policy: OutboxDispatcher.RetryPolicy) { self.policy = policy }

    var isHealthy: Bool { failures == 0 }

    /// Whether writes kept in memory may be tried again.
    func isDue(at now: Date) -> Bool { nextAttempt.map { now >= $0 } ?? true }

    /// A write was refused: returns how long until the next try.
    mutating func failed(at now: Date) -> Duration {
        failures += 1
        let delay = policy.delay(afterAttempt: failures)
        nextAttempt = now.addingTimeInterval(delay.seconds)
        return delay
    }

    /// A write went through: returns how many had been refused in a row before it.
    mutating func succeeded() -> Int {
        defer { failures = 0; nextAttempt = nil }
        return failures
    }
}
