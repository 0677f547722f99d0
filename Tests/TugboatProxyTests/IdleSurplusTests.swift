import Testing
@testable import TugboatProxy

@Suite("Idle upstream connections left by a burst")
struct IdleSurplusTests {
    /// One purge interval of a steady load: `inUse` requests at a time, each taking a connection
    /// from the pool and giving it back.
    private func steadyInterval(_ surplus: inout IdleSurplus, idle: Int, inUse: Int) {
        for _ in 0..<10 { surplus.taken(leaving: idle - inUse) }
    }

    @Test("after a burst of 300 the pool shrinks to what a steady load of 10 uses, halving each purge")
    func shrinksAfterBurst() {
        var surplus = IdleSurplus()
        var idle = 300  // the burst is over: every connection is back in the pool
        _ = surplus.purge(idleCount: idle)  // counting starts here
        var sizes: [Int] = []
        for _ in 0..<12 {
            steadyInterval(&surplus, idle: idle, inUse: 10)
            idle -= surplus.purge(idleCount: idle)
            sizes.append(idle)
        }
        #expect(sizes.prefix(4) == [155, 83, 47, 29], "half of the unused ones each time: \(sizes)")
        #expect(sizes.last! >= 10 && sizes.last! <= 11, "the load's 10 stay, at most one spare: \(sizes)")
    }

    @Test("connections a load keeps taking are never closed")
    func busyConnectionsStay() {
        var surplus = IdleSurplus()
        _ = surplus.purge(idleCount: 40)
        for _ in 0..<5 {
            steadyInterval(&surplus, idle: 40, inUse: 40)  // every idle one was taken at some point
            #expect(surplus.purge(idleCount: 40) == 0)
        }
    }

    @Test("the last idle connection is kept; an empty pool purges nothing")
    func lastOneKept() {
        var surplus = IdleSurplus()
        _ = surplus.purge(idleCount: 1)
        for _ in 0..<5 { #expect(surplus.purge(idleCount: 1) == 0) }
        var empty = IdleSurplus()
        #expect(empty.purge(idleCount: 0) == 0)
    }

    @Test("connections given back after the counting began are not surplus until an interval passes unused")
    func newConnectionsWait() {
        var surplus = IdleSurplus()
        _ = surplus.purge(idleCount: 2)
        surplus.taken(leaving: 0)  // both taken; a burst then dials 100 more and gives them all back
        #expect(surplus.purge(idleCount: 102) == 0, "they were in use during this interval")
        #expect(surplus.purge(idleCount: 102) == 51, "a whole interval unused")
    }
}
