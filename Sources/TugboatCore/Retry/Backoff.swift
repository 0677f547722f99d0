/// Exponential backoff with jitter, the one rule behind every retry (Redis reconnects, the outbox,
/// the store's refused writes, ACME renewals, scaling launches): `first` after the first failure,
/// doubling with each one up to `maximum`, then multiplied by a factor from `jitter` so that many
/// retries do not fall in step. Pure: the random draw comes in, or from the system.
package struct Backoff: Sendable, Equatable {
    /// The factor the capped delay is multiplied by: `lowest + width × random`, random in 0…1.
    package struct Jitter: Sendable, Equatable {
        package var lowest: Double
        package var width: Double

        /// Exactly the delay.
        package static let none = Jitter(lowest: 1, width: 0)
        /// ±`fraction` around the delay (0.2: 80 % to 120 %).
        package static func spread(_ fraction: Double) -> Jitter { Jitter(lowest: 1 - fraction, width: 2 * fraction) }
        /// Between `lowest` and `highest` times the delay (0.5, 1: "full jitter" from half).
        package static func between(_ lowest: Double, _ highest: Double) -> Jitter { Jitter(lowest: lowest, width: highest - lowest) }
    }

    package var first: Duration
    package var maximum: Duration
    package var jitter: Jitter

    package init(first: Duration, maximum: Duration, jitter: Jitter = .none) {
        self.first = first
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The wait after `attempt` failures in a row (1: the first), `random` in 0…1 choosing where in
    /// the jitter it falls.
    package func delay(afterAttempt attempt: Int, random: Double) -> Duration {
        var delay = first
        var doublings = max(attempt, 1) - 1
        while doublings > 0, delay < maximum {
            delay = delay * 2
            doublings -= 1
        }
        let capped = min(delay, maximum)
        let factor = jitter.lowest + jitter.width * min(max(random, 0), 1)
        return factor == 1 ? capped : capped * factor
    }

    /// The same with a random draw from the system's generator.
    package func delay(afterAttempt attempt: Int) -> Duration {
        delay(afterAttempt: attempt, random: jitter.width == 0 ? 0 : Double.random(in: 0...1))
    }
}
