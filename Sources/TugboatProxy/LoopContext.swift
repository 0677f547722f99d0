import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import TugboatCore

/// Everything the data plane keeps per event loop: the backend list it balances over, upstream
/// pools, the traffic meter and the balancer. Only touched on its own event loop, so no locks.
final class LoopContext {
    let eventLoop: EventLoop
    /// Replaced by a reload (`install(_ configuration:)`); connections pick up the new
    /// values at their next request, seeing ``configurationGeneration`` move.
    private(set) var configuration: ProxyConfiguration
    private(set) var configurationGeneration = 0
    var backends = BackendSet()
    var balancer: Balancer
    var meter = TrafficMeter()
    var requestIDs = RequestIDGenerator()
    /// This loop's batch of access-log records; nil when `access-log` is off.
    let accessLog: LoopAccessLog?
    /// Scratch space shared by every connection on this loop (they run one at a time): the header
    /// fields of the head being parsed (the heads written go into ``takeHeadBuffer(capacity:)``'s).
    var headerFields: [HeaderField] = []
    /// HTTP/2 streams' handlers whose streams are over, made as new for the loop's next streams
    /// (``ProxyHandler/madeAsNewForAnotherStream()``): a stream is one exchange, hundreds a second,
    /// and allocating, initialising and freeing a handler for each was a twentieth of an HTTP/2
    /// request's instructions. At most ``maxSpareStreamHandlers``.
    var spareStreamHandlers: [ProxyHandler] = []
    static let maxSpareStreamHandlers = 64
    /// Opens upstream connections (sockets; tests inject their own).
    let connector: UpstreamConnector
    /// The socket connector, when it is the one in use (its connect timeout follows the configuration).
    private let socketConnector: SocketUpstreamConnector?
    /// Indexed by backend slot.
    private var pools: [UpstreamPool?] = []
    /// Called on the loop when live traffic fails against a backend `consecutive` times in a row.
    let onPassiveFailure: @Sendable (HostPort, Int) -> Void
    /// Called when a request starts waiting for a backend while none is ready (scale from zero).
    let onDemandWhileEmpty: @Sendable () -> Void
    /// Requests waiting for a backend to become ready.
    private var held: [Weak<ProxyHandler>] = []
    /// Writes (HTTP/1.1 clients', HTTP/2 connections') waiting for the end of this turn of the loop (``TurnEndFlushes``).
    fileprivate var turnEndFlushes = TurnEndFlushes()
    /// The turn's sends to plain client sockets in one system call, made on the loop's thread at
    /// its first use; nil where io_uring cannot be used (``SendBatch``).
    lazy var sendBatch: SendBatch? = getenv("TUGBOAT_SEND_BATCH").map { String(cString: $0) } == "0" ? nil : SendBatch()

    init(eventLoop: EventLoop, configuration: ProxyConfiguration,
         onPassiveFailure: @escaping @Sendable (HostPort, Int) -> Void,
         onDemandWhileEmpty: @escaping @Sendable () -> Void = {},
         connector: UpstreamConnector? = nil, accessLog: AccessLog? = nil, splices: SpliceCounts = SpliceCounts(),
         parkingLot: ParkingLot? = nil, connections: ConnectionCounts? = nil,
         spreader: LoopSpreader? = nil, index: Int = 0) {
        self.eventLoop = eventLoop
        self.spreader = spreader
        self.index = index
        self.parkingLot = parkingLot
        self.connections = connections
        self.splices = splices
        self.accessLog = accessLog.map { LoopAccessLog(queue: $0.queue, format: $0.settings.format) }
        socketConnector = connector == nil ? SocketUpstreamConnector(connectTimeout: configuration.connectTimeout, tls: configuration.upstreamTLS) : nil
        self.connector = connector ?? socketConnector!
        self.configuration = configuration
        self.balancer = Balancer(algorithm: configuration.balance == .leastRequest ? .leastRequest : .roundRobin)
        self.onPassiveFailure = onPassiveFailure
        self.onDemandWhileEmpty = onDemandWhileEmpty
    }

    /// Buffers heads are written into (a request's for its backend, kept for a retry until the
    /// response starts; a response's; an HTTP/2 stream's translated head and header block), given
    /// back when done with: at most ``maxSpareHeads`` of up to 8 KiB, so writing heads allocates
    /// nothing once the loop has served its concurrency. A buffer still referenced elsewhere (a
    /// write NIO has not finished) is copied on write by its next taker, never shared.
    private var spareHeads: [ByteBuffer] = []
    static let maxSpareHeads = 256

    /// An empty buffer with room for `capacity` bytes: a spare one when there is.
    func takeHeadBuffer(capacity: Int) -> ByteBuffer {
        var buffer = spareHeads.popLast() ?? ByteBuffer()
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    func returnHeadBuffer(_ buffer: ByteBuffer) {
        guard buffer.capacity > 0, buffer.capacity <= 8 * 1024, spareHeads.count < Self.maxSpareHeads else { return }
        spareHeads.append(buffer)
    }

    /// Where idle connections wait without a channel (nil: they keep theirs), and the connection
    /// count parking keeps right (both shared by every loop).
    let parkingLot: ParkingLot?
    let connections: ConnectionCounts?
    /// Connections back from the parking lot: NIO's quiescing helper only knows accepted ones, so
    /// graceful shutdown reaches these through here.
    private var adoptedChannels: [ObjectIdentifier: Channel] = [:]
    private var quiescing = false

    func adopted(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        adoptedChannels[id] = channel
        channel.closeFuture.assumeIsolated().whenComplete { _ in self.adoptedChannels[id] = nil }
        if quiescing { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    /// Graceful shutdown: every connection back from the parking lot (now or later) finishes its
    /// request and closes.
    func quiesceAdopted() {
        quiescing = true
        for channel in adoptedChannels.values { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    /// `threads: auto` on a plain listener: which loops the connections gather on (nil: they stay
    /// where NIO dealt them).
    let spreader: LoopSpreader?
    /// This loop's place in the group (the spreader's index).
    let index: Int
    /// Until the next sample: how many connections (to which loop) are to move away at their next
    /// idle point (see LoopSpreader.swift).
    var movesLeft = 0
    var moveTarget = 0
    private var lastSample: (wall: NIODeadline, cpu: TimeAmount)?

    /// Every ``LoopSpreader/samplePeriod``: this loop's busy fraction to the spreader, and its
    /// part of the decision back.
    func sampleLoad() {
        guard let spreader else { return }
        let now = NIODeadline.now()
        let cpu = ThreadCPUClock.now()
        defer { lastSample = (now, cpu) }
        guard let last = lastSample, now > last.wall else { return }
        let busy = spreader.busyOverride?(index)
            ?? Double((cpu - last.cpu).nanoseconds) / Double((now - last.wall).nanoseconds)
        let move = spreader.report(loop: index, busy: busy)
        movesLeft = move?.count ?? 0
        moveTarget = move?.to ?? index
    }

    /// Counts the spliced responses (shared by every loop).
    let splices: SpliceCounts
    /// Empty splice pipes given back by finished responses (at most ``maxSparePipes``).
    private var sparePipes: [SplicePipe] = []
    static let maxSparePipes = 64

    /// A pipe for a spliced response body: a spare one, or a new one (nil when the system refuses).
    func takeSplicePipe() -> SplicePipe? {
        sparePipes.popLast() ?? SplicePipe.open()
    }

    /// Takes back a pipe whose body went through whole (it is empty); others are closed.
    func returnSplicePipe(_ pipe: SplicePipe) {
        guard sparePipes.count < Self.maxSparePipes else {
            pipe.close()
            return
        }
        sparePipes.append(pipe)
    }


    /// Parks a request until a backend is ready; false when the waiting room is full.
    func hold(_ handler: ProxyHandler) -> Bool {
        held.removeAll { $0.value == nil }
        guard held.count < configuration.maxHeldPerLoop else { return false }
        held.append(Weak(handler))
        if held.count == 1 { onDemandWhileEmpty() }
        return true
    }

    func pool(for backend: ProxyBackend) -> UpstreamPool {
        if backend.slot < pools.count, let pool = pools[backend.slot] { return pool }
        if backend.slot >= pools.count { pools.append(contentsOf: repeatElement(nil, count: backend.slot - pools.count + 1)) }
        let pool = UpstreamPool(
            backend: backend, eventLoop: eventLoop,
            maxIdle: configuration.maxIdleUpstreamsPerLoop, connector: connector
        )
        pools[backend.slot] = pool
        return pool
    }

    /// Installs a new backend list; pools of backends that left are closed.
    func install(_ set: BackendSet) {
        let kept = Set(set.all.map(\.slot))
        for (slot, pool) in pools.enumerated() where pool != nil && !kept.contains(slot) {
            pool?.closeAll()
            pools[slot] = nil
        }
        backends = set
        if !set.eligible.isEmpty && !held.isEmpty {
            let waiting = held
            held.removeAll()
            for entry in waiting { entry.value?.backendBecameReady() }
        }
    }

    /// Installs a reloaded configuration: new connections and the next request of open ones use
    /// it; requests in flight keep the values they started with.
    func install(_ configuration: ProxyConfiguration) {
        if configuration.balance != self.configuration.balance {
            balancer = Balancer(algorithm: configuration.balance == .leastRequest ? .leastRequest : .roundRobin)
        }
        socketConnector?.connectTimeout = configuration.connectTimeout
        self.configuration = configuration
        configurationGeneration += 1
    }

    /// Once a second: close upstream connections idle too long, and repeat the call for an
    /// instance while requests are still waiting for one (the scaler may have been busy stopping).
    func everySecond() {
        let now = NIODeadline.now()
        for pool in pools { pool?.sweep(olderThan: configuration.idleTimeout, now: now) }
        held.removeAll { $0.value == nil }
        if !held.isEmpty { onDemandWhileEmpty() }
        if let accessLog {
            accessLog.flush()
            accessLog.refreshClock()
        }
    }

    /// A live-traffic failure against `backend`; reports when the run reaches the threshold.
    func recordFailure(_ backend: ProxyBackend) {
        let run = backend.recordFailure()
        let threshold = configuration.passiveFailures
        if threshold > 0 && run >= threshold && (run - threshold) % threshold == 0 {
            onPassiveFailure(backend.address, run)
        }
    }
}

/// A weak reference, for lists that must not keep connections alive.
struct Weak<Object: AnyObject> {
    weak var value: Object?
    init(_ value: Object) { self.value = value }
}

extension LoopContext {
    /// `flusher` sends what it wrote at the end of this turn of the loop, together with the
    /// turn's other writes (``TurnEndFlushes``). Call at most once a turn per flusher.
    func flushAtEndOfTurn(_ flusher: TurnEndFlushing) {
        guard turnEndFlushes.add(flusher) else { return }
        eventLoop.assumeIsolated().execute { self.flushTurn() }
    }

    private func flushTurn() {
        let turn = turnEndFlushes.takeTurn()
        let batch = turn.count > 1 ? sendBatch : nil
        if let batch {
            for flusher in turn { flusher.prepareTurnEndSend(into: batch) }
            batch.submit()
        }
        for flusher in turn { flusher.flushAtTurnEnd() }
        batch?.reset()
        turnEndFlushes.recycle(turn)
    }
}
