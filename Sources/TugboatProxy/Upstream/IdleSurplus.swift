/// Which of a pool's idle upstream connections a burst left behind: those that stayed idle for a
/// whole purge interval are more than the load uses. At each purge half of them are closed, the
/// longest idle first, so after a burst the pool shrinks back in a few intervals, the way
/// HAProxy's `pool-purge-delay` does; one connection is always kept (until `timeouts.idle`).
/// Pure; ``UpstreamPool`` tells it the idle count whenever a connection is taken.
struct IdleSurplus {
    /// How often the surplus is purged.
    static let interval = 5.0

    /// The fewest connections idle at any moment since the last purge: that many went unused.
    private(set) var fewestIdle = 0

    /// A connection was taken; `idleCount` are left idle.
    mutating func taken(leaving idleCount: Int) {
        fewestIdle = min(fewestIdle, idleCount)
    }

    /// A purge is due with `idleCount` idle: how many of the longest idle to close. Counting starts
    /// over from what is left.
    mutating func purge(idleCount: Int) -> Int {
        let unused = min(fewestIdle, idleCount)
        let close = unused / 2
        fewestIdle = idleCount - close
        return close
    }
}
