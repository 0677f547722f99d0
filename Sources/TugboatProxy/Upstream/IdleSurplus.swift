/// How many of a pool's idle upstream connections are more than the load needs, the way HAProxy
/// purges idle server connections (`pool-purge-delay`): the need is the most connections busy at
/// once since the last purge or, when higher, the need remembered from before, which falls half
/// way to that peak at each purge; half of what the pool holds beyond the need is closed, the
/// longest idle first. A load that comes back within two intervals finds every connection it
/// left; one that comes in bursts every 15 s re-dials a quarter of them (halving what was unused
/// at each purge, as this did before, re-dialled three quarters, and each new connection waits in
/// a backend such as nginx behind the accepts before it). After a burst the pool shrinks back to
/// what the steady load uses, one connection always kept (until `timeouts.idle`).
/// Pure; ``UpstreamPool`` tells it how many connections are busy whenever one is taken.
struct IdleSurplus {
    /// How often the surplus is purged.
    static let interval = 5.0

    /// The most connections busy at once since the last purge.
    private(set) var peakBusy = 0
    /// The need remembered from earlier intervals.
    private(set) var expectedNeed = 0

    /// A connection was taken; `busyCount` are busy now.
    mutating func taken(busy busyCount: Int) {
        if busyCount > peakBusy { peakBusy = busyCount }
    }

    /// A purge is due with `idleCount` idle and `busyCount` busy: how many of the longest idle to
    /// close. The peak starts over from those busy now.
    mutating func purge(idleCount: Int, busyCount: Int) -> Int {
        let need = max(peakBusy, expectedNeed)
        let surplus = idleCount + busyCount - need
        expectedNeed = max((expectedNeed + peakBusy) / 2, peakBusy)
        peakBusy = busyCount
        return surplus > 1 ? min(idleCount, surplus / 2) : 0
    }
}
