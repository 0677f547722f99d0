import Testing
@testable import TugboatProxy

@Suite("Idle upstream connections left by a burst")
struct IdleSurplusTests {
    /// One purge interval of a steady load with `inUse` requests at a time (each takes a connection
    /// and gives it back), then the purge, with all of them back: the pool's size after it.
    private func interval(_ surplus: inout IdleSurplus, pool: Int, inUse: Int) -> Int {
        for _ in 0..<10 { surplus.taken(busy: inUse) }
        return pool - surplus.purge(idleCount: pool, busyCount: 0)
    }

    @Test("after a burst of 300 nothing is closed for two intervals; then the pool shrinks to what a steady load of 10 uses")
    func shrinksAfterBurst() {
        var surplus = IdleSurplus()
        var pool = interval(&surplus, pool: 300, inUse: 300)  // the burst
        #expect(pool == 300)
        var sizes: [Int] = []
        for _ in 0..<16 {
            pool = interval(&surplus, pool: pool, inUse: 10)
            sizes.append(pool)
        }
        #expect(sizes.prefix(5) == [300, 228, 155, 101, 65], "the need remembered halves towards the load's: \(sizes)")
        #expect(sizes.last! >= 10 && sizes.last! <= 11, "the load's 10 stay, at most one spare: \(sizes)")
    }

    @Test("a burst of 500 every three intervals re-dials a quarter of its connections each time, not three quarters")
    func periodicBursts() {
        var surplus = IdleSurplus()
        var pool = 0
        var dialled: [Int] = []
        for _ in 0..<6 {
            dialled.append(500 - pool)
            pool = interval(&surplus, pool: 500, inUse: 500)
            pool = interval(&surplus, pool: pool, inUse: 0)
            pool = interval(&surplus, pool: pool, inUse: 0)
        }
        #expect(dialled.dropFirst().allSatisfy { $0 <= 125 }, "\(dialled)")
    }

    @Test("connections a load keeps busy are never closed, nor idle ones it took during the interval")
    func busyConnectionsStay() {
        var surplus = IdleSurplus()
        for _ in 0..<5 {
            for _ in 0..<10 { surplus.taken(busy: 40) }
            #expect(surplus.purge(idleCount: 10, busyCount: 30) == 0)
        }
    }

    @Test("the last idle connection is kept; an empty pool purges nothing")
    func lastOneKept() {
        var surplus = IdleSurplus()
        var pool = 3
        for _ in 0..<8 { pool -= surplus.purge(idleCount: pool, busyCount: 0) }
        #expect(pool == 1)
        var empty = IdleSurplus()
        #expect(empty.purge(idleCount: 0, busyCount: 0) == 0)
    }
}
