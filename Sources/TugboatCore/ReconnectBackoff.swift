/// Delays between reconnect attempts: `initial`, doubling up to `maximum`, each with ±`jitter`
/// (a fraction) so that many nodes do not reconnect in lockstep (the shared ``Backoff``, counting
/// the attempts). Reset after a success. Redis reconnects and the Kubernetes watch use it.
package struct ReconnectBackoff: Sendable {
    package let backoff: Backoff
    private var attempts = 0

    package init(initial: Duration, maximum: Duration, jitter: Double = 0.2) {
        backoff = Backoff(first: initial, maximum: max(initial, maximum), jitter: .spread(jitter))
    }

    package mutating func next<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration {
        attempts += 1
        return backoff.delay(afterAttempt: attempts, random: Double.random(in: 0...1, using: &generator))
    }

    package mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    package mutating func reset() {
        attempts = 0
    }
}
