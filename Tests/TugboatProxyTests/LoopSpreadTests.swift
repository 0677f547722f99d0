import Testing
@testable import TugboatProxy

@Suite("LoopSpread: how many event loops take connections under threads: auto")
struct LoopSpreadTests {
    @Test("one loop until it is busy past the threshold for two samples in a row; then the next joins, up to all of them")
    func spills() {
        var spread = LoopSpread(loopCount: 3)
        #expect(spread.active == 1)
        #expect(spread.observe(busy: [0.74, 0, 0]) == nil, "below the threshold")
        #expect(spread.observe(busy: [0.9, 0, 0]) == nil, "one hot sample is a blip")
        #expect(spread.observe(busy: [0.5, 0, 0]) == nil)
        #expect(spread.observe(busy: [0.9, 0, 0]) == nil, "the count starts over after a cool sample")
        #expect(spread.observe(busy: [0.8, 0, 0]) == 2)
        #expect(spread.active == 2)
        // Two loops, each busy 0.8 on average: the third joins; then there is nothing more to add.
        #expect(spread.observe(busy: [0.8, 0.8, 0]) == nil)
        #expect(spread.observe(busy: [0.9, 0.7, 0]) == 3)
        for _ in 0..<5 { #expect(spread.observe(busy: [1, 1, 1]) == nil) }
        #expect(spread.active == 3)
    }

    @Test("no loop joins a machine without half a core idle for it; one joins as soon as there is")
    func spillsOnlyIntoIdleCPU() {
        var spread = LoopSpread(loopCount: 2)
        for _ in 0..<10 { #expect(spread.observe(busy: [1, 0], idleCores: 0.16) == nil, "the load generator has the rest of the machine") }
        #expect(spread.active == 1)
        #expect(spread.observe(busy: [1, 0], idleCores: 0.9) == nil, "two hot samples with room, as before")
        #expect(spread.observe(busy: [1, 0], idleCores: 0.9) == 2)
        var unknown = LoopSpread(loopCount: 2)
        _ = unknown.observe(busy: [1, 0], idleCores: nil)
        #expect(unknown.observe(busy: [1, 0], idleCores: .nan) == 2, "idle CPU not known: no condition on it")
    }

    @Test("the machine's idle CPU comes from /proc/stat's cpu line: idle and iowait")
    func machineIdle() {
        #expect(MachineIdleClock.idleTicks(cpuLine: "cpu  4705 356 584 3699176 23 0 12 0 0 0\n") == 3_699_199)
        #expect(MachineIdleClock.idleTicks(cpuLine: "cpu0 1 2 3 4 5") == nil, "a single core's line")
        #expect(MachineIdleClock.idleTicks(cpuLine: "cpu 1 2") == nil)
        #expect(MachineIdleClock.idleTicks() != nil, "this machine's /proc/stat reads")
        var clock = MachineIdleClock()
        #expect(clock.idleCoresSinceLastCall() == nil, "the first call has nothing to compare with")
    }

    @Test("a loop leaves when the others could carry its work below the gather threshold for eight samples")
    func gathers() {
        var spread = LoopSpread(loopCount: 2)
        _ = spread.observe(busy: [1, 0])
        #expect(spread.observe(busy: [1, 0]) == 2)
        // 0.47 + 0.47 = 0.94 of one loop: two stay (the small-request case measured here).
        for _ in 0..<20 { #expect(spread.observe(busy: [0.47, 0.47]) == nil) }
        // 0.31 + 0.31 = 0.62 (the 1 MiB download): one loop can carry it.
        for _ in 0..<7 { #expect(spread.observe(busy: [0.31, 0.31]) == nil) }
        #expect(spread.observe(busy: [0.31, 0.31]) == 1)
        #expect(spread.active == 1)
        #expect(spread.observe(busy: [0.1, 0]) == nil, "never below one loop")
    }

    @Test("an idle proxy keeps its loops: the next burst starts where the last one left off")
    func idleKeeps() {
        var spread = LoopSpread(loopCount: 2)
        _ = spread.observe(busy: [1, 0])
        _ = spread.observe(busy: [1, 0])
        for _ in 0..<40 { #expect(spread.observe(busy: [0.01, 0.02]) == nil) }
        #expect(spread.active == 2)
    }

    @Test("between the thresholds nothing changes either way (hysteresis)")
    func hysteresis() {
        var one = LoopSpread(loopCount: 2)
        for _ in 0..<20 { #expect(one.observe(busy: [0.72, 0]) == nil) }
        var two = LoopSpread(loopCount: 2)
        _ = two.observe(busy: [1, 0])
        _ = two.observe(busy: [1, 0])
        for _ in 0..<20 { #expect(two.observe(busy: [0.36, 0.36]) == nil) }
        #expect(one.active == 1 && two.active == 2)
    }

    @Test("busy fractions out of range (a clock that jumped) are clamped, not trusted")
    func clamps() {
        var spread = LoopSpread(loopCount: 2)
        #expect(spread.observe(busy: [-5, 0.5]) == nil)
        #expect(spread.observe(busy: [.nan, 0]) == nil)
        #expect(spread.active == 1)
    }

    @Test("moves: an inactive loop hands over everything, an active one what exceeds its even share, each to the emptiest active loop")
    func moves() {
        var spread = LoopSpread(loopCount: 2)
        // One active loop: everything on loop 1 comes to loop 0.
        #expect(spread.moves(connections: [10, 5]) == [nil, .init(count: 5, to: 0)])
        #expect(spread.moves(connections: [15, 0]) == [nil, nil])
        _ = spread.observe(busy: [1, 0])
        _ = spread.observe(busy: [1, 0])
        // Two active: 50 on loop 0 → 25 move to loop 1; an odd count does not bounce.
        #expect(spread.moves(connections: [50, 0]) == [.init(count: 25, to: 1), nil])
        #expect(spread.moves(connections: [26, 25]) == [nil, nil])
        #expect(spread.moves(connections: [25, 26]) == [nil, nil])
        #expect(spread.moves(connections: [0, 0]) == [nil, nil])

        var three = LoopSpread(loopCount: 3)
        for _ in 0..<2 { _ = three.observe(busy: [1, 0, 0]) }
        // Loops 0 and 1 active, loop 2 not: its connections go to the loop with the most room.
        #expect(three.moves(connections: [6, 2, 4]) == [nil, nil, .init(count: 4, to: 1)])
    }
}
