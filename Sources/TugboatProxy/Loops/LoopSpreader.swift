import Glibc
import NIOCore
import Synchronization

/// The I/O around ``LoopSpread``, shared by every event loop: each loop samples its own thread's
/// CPU time every ``samplePeriod`` and reports it here (connections are counted here as they open
/// and close); loop 0's report runs the decision, and every loop picks up its part (how many
/// connections to hand over and to which loop) with its next report. A connection moves only
/// between requests, when it holds nothing in user space: its socket goes to the other loop as a
/// new channel (as a parked one comes back, see ``SocketAdoption``). On a TLS listener connections
/// never move once accepted; there the spreader places each new HTTP/2 connection before its
/// handshake (``LoopSpread/http2Placement(connections:placedSinceSample:burst:)``).
final class LoopSpreader: Sendable {
    static let samplePeriod: TimeAmount = .milliseconds(250)

    private struct State {
        var spread: LoopSpread
        var busy: [Double]
        var moves: [LoopSpread.Move?]
        var connections: [Int]
        var machine = MachineIdleClock()
        /// TLS listener: HTTP/2 connections per loop, and how many each took since its last sample.
        var http2: [Int]
        var http2PlacedSinceSample: [Int]
    }

    private let state: Mutex<State>
    let loopCount: Int
    private let activeCount = Atomic<Int>(1)
    private let movedCount = Atomic<Int>(0)
    private let loops = Mutex<[NIOLoopBoundBox<LoopContext>]>([])
    /// Tests set each loop's busy fraction instead of measuring it.
    let busyOverride: (@Sendable (Int) -> Double)?
    /// A plain listener's connections move between requests; a TLS listener's never do.
    let movesConnections: Bool

    init(spread: LoopSpread, movesConnections: Bool = true, busyOverride: (@Sendable (Int) -> Double)? = nil) {
        let zeros = Array(repeating: 0, count: spread.loopCount)
        state = Mutex(State(spread: spread, busy: Array(repeating: 0, count: spread.loopCount),
                            moves: Array(repeating: nil, count: spread.loopCount), connections: zeros,
                            http2: zeros, http2PlacedSinceSample: zeros))
        loopCount = spread.loopCount
        self.movesConnections = movesConnections
        self.busyOverride = busyOverride
    }

    /// Loops the connections gather on now (for /metrics).
    var active: Int { activeCount.load(ordering: .relaxed) }
    /// Connections handed from one loop to another so far (for /metrics).
    var moved: Int { movedCount.load(ordering: .relaxed) }
    func connections(onLoop index: Int) -> Int { state.withLock { $0.connections[index] } }
    func http2Connections(onLoop index: Int) -> Int { state.withLock { $0.http2[index] } }

    func attach(_ contexts: [NIOLoopBoundBox<LoopContext>]) {
        loops.withLock { $0 = contexts }
    }

    /// Client connections per loop, kept live (once per connection, never per request).
    func connectionOpened(onLoop index: Int) { state.withLock { $0.connections[index] += 1 } }
    func connectionClosed(onLoop index: Int) { state.withLock { $0.connections[index] -= 1 } }

    /// A loop's sample: its busy fraction over the last period. Returns what the loop is to do
    /// until its next report: how many of its connections move, and where.
    func report(loop index: Int, busy: Double) -> LoopSpread.Move? {
        state.withLock { state in
            state.busy[index] = busy
            state.http2PlacedSinceSample[index] = 0
            if index == 0 {
                // Tests that set the busy fractions leave the machine out (its idle CPU is theirs).
                let idleCores = busyOverride == nil ? state.machine.idleCoresSinceLastCall() : nil
                if let active = state.spread.observe(busy: state.busy, idleCores: idleCores) { activeCount.store(active, ordering: .relaxed) }
                if movesConnections { state.moves = state.spread.moves(connections: state.connections) }
            }
            return state.moves[index]
        }
    }

    /// A TLS listener's new HTTP/2 connection, accepted on loop `index`: the loop it starts on,
    /// counted there until ``http2Closed(onLoop:)`` (`index` itself when it may not move).
    func placeHTTP2(arrivingOn index: Int, mayMove: Bool) -> Int {
        state.withLock { state in
            let target = mayMove
                ? state.spread.http2Placement(connections: state.http2, placedSinceSample: state.http2PlacedSinceSample) : index
            state.http2[target] += 1
            state.http2PlacedSinceSample[target] += 1
            return target
        }
    }

    func http2Closed(onLoop index: Int) { state.withLock { $0.http2[index] -= 1 } }

    /// Where a connection parked on loop `index` comes back: nil (its own loop) while that loop
    /// is active, else the active loop with the fewest connections (counted as a move).
    func home(forParkedOn index: Int) -> NIOLoopBoundBox<LoopContext>? {
        let target: Int? = state.withLock { state in
            let active = state.spread.active
            guard index >= active else { return nil }
            return (0..<active).min { state.connections[$0] < state.connections[$1] }
        }
        guard let target, let home = loops.withLock({ target < $0.count ? $0[target] : nil }) else { return nil }
        movedCount.add(1, ordering: .relaxed)
        return home
    }

    /// Hands `fd` (a duplicate of a connection's socket, counted open) to loop `index`: a plain
    /// connection between requests, or (`handshake`) a TLS one before its handshake, with the
    /// bytes read from it so far.
    func adopt(_ fd: Int32, onLoop index: Int, counts: ConnectionCounts, handshake: SocketAdoption.Handshake? = nil) {
        let target = loops.withLock { $0[index] }
        movedCount.add(1, ordering: .relaxed)
        target.eventLoop.execute { SocketAdoption.adopt(fd, into: target.value, counts: counts, handshake: handshake) }
    }
}

/// A loop's own thread CPU time, for its busy fraction (call it on the loop's thread).
enum ThreadCPUClock {
    static func now() -> TimeAmount {
        var time = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0 else { return .zero }
        return .nanoseconds(Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }
}

/// The machine's idle CPU, in cores, between two calls: the idle and iowait times of /proc/stat's
/// `cpu` line over the wall time between (nil the first time, or where /proc/stat is not).
struct MachineIdleClock {
    private var last: (idleTicks: Double, at: NIODeadline)?
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    mutating func idleCoresSinceLastCall() -> Double? {
        guard let ticks = Self.idleTicks() else { return nil }
        let now = NIODeadline.now()
        defer { last = (ticks, now) }
        guard let last, Self.ticksPerSecond > 0 else { return nil }
        let seconds = Double((now - last.at).nanoseconds) / 1e9
        guard seconds > 0 else { return nil }
        return (ticks - last.idleTicks) / Self.ticksPerSecond / seconds
    }

    /// idle + iowait of the `cpu` line (all cores), in clock ticks.
    static func idleTicks() -> Double? {
        guard let file = fopen("/proc/stat", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        return idleTicks(cpuLine: line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    /// "cpu  user nice system idle iowait …" → idle + iowait.
    static func idleTicks(cpuLine: String) -> Double? {
        let fields = cpuLine.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 6, fields[0] == "cpu", let idle = Double(fields[4]), let iowait = Double(fields[5]) else { return nil }
        return idle + iowait
    }
}

/// What /metrics and tests see of the spreader.
package struct LoopSpreadView: Sendable {
    let spreader: LoopSpreader
    package var loops: Int { spreader.loopCount }
    package var active: Int { spreader.active }
    package var moved: Int { spreader.moved }
    package func connections(onLoop index: Int) -> Int { spreader.connections(onLoop: index) }
    /// A TLS listener's: new HTTP/2 connections are placed, none moves after its handshake.
    package var placesHTTP2: Bool { !spreader.movesConnections }
    package func http2Connections(onLoop index: Int) -> Int { spreader.http2Connections(onLoop: index) }
}
