import TugboatCore

extension Duration {
    /// Seconds as a Double (for rates and backoff arithmetic).
    var scalingSeconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
