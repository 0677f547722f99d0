/// Delays between reconnect attempts: `initial`, doubling up to `maximum`, each with ±`jitter`
/// (a fraction) so that many nodes do not reconnect in lockstep. Pure; reset after a success.
/// Redis reconnects and the Kubernetes watch use it.
public struct ReconnectBackoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    public let jitter: Double
    private var nominal: Duration?

    public init(initial: Duration, maximum: Duration, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.jitter = jitter
    }

    public mutating func next<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration {
        let nominal = self.nominal.map { min($0 * 2, self.maximum) } ?? self.initial
        self.nominal = nominal
        guard self.jitter > 0 else { return nominal }
        let factor = 1 + Double.random(in: -self.jitter...self.jitter, using: &generator)
        return nominal * factor
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return self.next(using: &generator)
    }

    public mutating func reset() {
        self.nominal = nil
    }
}
