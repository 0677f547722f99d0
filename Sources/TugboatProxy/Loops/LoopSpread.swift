/// `threads: auto` on a plain-HTTP listener: how many of the event loops take client connections.
///
/// On a machine the proxy shares with its load (the application, or a load generator), every
/// extra proxy thread also takes CPU from the others, and two half-busy loops cost more per
/// request than one busy loop (fewer events per wake-up, more context switches: measured 25–30 %
/// more CPU per 1 MiB response at two loops, for HAProxy as for Tugboat). So connections gather
/// on as few loops as keep up: one more loop joins when the active ones are busy more than
/// ``spillAbove`` of the time for ``samplesToSpill`` samples in a row, and one leaves when the
/// others could carry its work below ``gatherBelow`` for ``samplesToGather`` samples (hysteresis
/// both ways: spilling raises the CPU per request, gathering lowers it). A loop joins only when the
/// machine has ``spillNeedsIdleCores`` of a core idle for it: on a machine its load has already
/// filled (the application, a load generator), another loop gets no CPU the others do not lose,
/// and only adds the contention (measured on the 2-core machine shared with wrk and nginx under
/// `bench/proxy.sh`'s small case: 0.16–0.24 of a core idle with one loop or two; HAProxy's
/// `nbthread 2` there has a p99 30–40 % above `nbthread 1`'s for the same req/s, and Tugboat's two
/// loops sat at `nbthread 2`'s tail). An idle proxy (less than
/// ``idleBelow`` of one loop busy) keeps what it has: there is no evidence either way, and the
/// next burst is most likely shaped like the last.
///
/// Pure decisions: fed each sampling period's busy fraction per loop (thread CPU time over wall
/// time) and the connection count per loop; the I/O around it is ``LoopSpreader``.
struct LoopSpread: Equatable {
    let loopCount: Int
    /// Loops `0..<active` take new connections; the others hand theirs over.
    private(set) var active = 1
    let spillAbove: Double
    let gatherBelow: Double
    let samplesToSpill: Int
    let samplesToGather: Int
    let idleBelow = 0.05
    /// Idle CPU the machine must have, in cores, for another loop to join.
    let spillNeedsIdleCores = 0.5
    private var hotSamples = 0
    private var coolSamples = 0

    init(loopCount: Int, spillAbove: Double = 0.75, gatherBelow: Double = 0.70,
         samplesToSpill: Int = 2, samplesToGather: Int = 8) {
        precondition(loopCount >= 1 && gatherBelow < spillAbove)
        self.loopCount = loopCount
        self.spillAbove = spillAbove
        self.gatherBelow = gatherBelow
        self.samplesToSpill = samplesToSpill
        self.samplesToGather = samplesToGather
    }

    /// One sampling period's busy fraction of each loop (0…1, all loops: one that is handing its
    /// connections over still works meanwhile), and the machine's idle CPU over it in cores (nil
    /// when unknown: no condition on it). Returns the new active count when it changed.
    mutating func observe(busy: [Double], idleCores: Double? = nil) -> Int? {
        let load = busy.reduce(0) { $0 + ($1.isFinite ? min(max($1, 0), 1) : 0) }
        let roomForAnother = idleCores.map { !$0.isFinite || $0 >= spillNeedsIdleCores } ?? true
        if active < loopCount && load / Double(active) >= spillAbove && roomForAnother {
            coolSamples = 0
            hotSamples += 1
            if hotSamples >= samplesToSpill { return change(to: active + 1) }
        } else if active > 1 && load >= idleBelow && load / Double(active - 1) <= gatherBelow {
            hotSamples = 0
            coolSamples += 1
            if coolSamples >= samplesToGather { return change(to: active - 1) }
        } else {
            hotSamples = 0
            coolSamples = 0
        }
        return nil
    }

    private mutating func change(to count: Int) -> Int {
        active = count
        hotSamples = 0
        coolSamples = 0
        return count
    }

    /// Which connections move: for each loop, how many it hands over and to which loop. An
    /// inactive loop hands over all of its connections; an active one those beyond its even share
    /// (rounded up, so an odd count does not bounce between two loops). Each mover goes to the
    /// active loop furthest below its share.
    func moves(connections: [Int]) -> [Move?] {
        precondition(connections.count == loopCount)
        let total = connections.reduce(0, +)
        let share = (total + active - 1) / active
        var room = (0..<loopCount).map { $0 < active ? max(0, share - connections[$0]) : 0 }
        return (0..<loopCount).map { index in
            let excess = index < active ? connections[index] - share : connections[index]
            guard excess > 0, let target = room.indices.max(by: { room[$0] < room[$1] }), room[target] > 0 else { return nil }
            let count = index < active ? min(excess, room[target]) : excess
            room[target] -= count
            return Move(count: count, to: target)
        }
    }

    struct Move: Equatable {
        var count: Int
        var to: Int
    }
}
