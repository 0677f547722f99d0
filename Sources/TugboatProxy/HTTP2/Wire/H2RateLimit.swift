/// A token bucket over a window: `allowance` events per `window`, refilled continuously. Counts
/// what a well-behaved HTTP/2 client does rarely (resets, pings, empty frames) so a flood of them
/// ends the connection. Pure: the caller passes the time.
struct H2RateLimit {
    let allowance: Int
    let windowNanoseconds: UInt64
    private var tokens: Double
    private var last: UInt64?

    init(allowance: Int, windowSeconds: Int) {
        self.allowance = allowance
        self.windowNanoseconds = UInt64(windowSeconds) * 1_000_000_000
        self.tokens = Double(allowance)
    }

    /// Takes one token; false when the bucket is empty (the limit is passed).
    mutating func take(now: UInt64) -> Bool {
        if let last, now > last {
            tokens = min(Double(allowance), tokens + Double(now - last) * Double(allowance) / Double(windowNanoseconds))
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
