import Logging
import NIOCore
import NIOPosix
import Synchronization
import TugboatCore

/// The proxy's data plane: one ``LoopContext`` per event loop. The control plane talks to it only
/// through pool snapshots (``apply(_:)``), reloaded settings (``reconfigure(_:)``) and
/// once-a-second meter collection (``collect()``).
package final class ProxyDataPlane: Sendable {
    package let group: MultiThreadedEventLoopGroup
    private let current: Mutex<ProxyConfiguration>
    /// The configuration last installed (each loop holds its own copy; this is for the control plane).
    package var configuration: ProxyConfiguration { current.withLock { $0 } }
    let contexts: [ObjectIdentifier: NIOLoopBoundBox<LoopContext>]
    private let registry = Mutex<Registry>(Registry())
    private let sweepers: [RepeatedTask]
    /// Open client connections and those refused over `max-connections`.
    package let connections = ConnectionCounts()
    /// Response bodies relayed through kernel pipes (splice(2)).
    package let splices = SpliceCounts()
    /// Idle plain HTTP/1.1 connections set aside without their channels (nil when the system
    /// refuses the lot its epoll instance).
    let parkingLot: ParkingLot?
    /// `access-log`, when on.
    package let accessLog: AccessLog?
    /// `threads: auto`: connections gather on as few loops as keep up — on a plain listener by
    /// moving between requests, on a TLS one HTTP/2 connections by where they start (nil: every
    /// loop takes connections).
    package let loopSpread: LoopSpreadView?

    private struct Registry {
        var byAddress: [HostPort: ProxyBackend] = [:]
        var nextSlot = 0
    }

    package init(group: MultiThreadedEventLoopGroup, configuration: ProxyConfiguration,
                onPassiveFailure: @escaping @Sendable (HostPort, Int) -> Void,
                onDemandWhileEmpty: @escaping @Sendable () -> Void = {}, accessLog: AccessLog? = nil,
                busyOverride: (@Sendable (Int) -> Double)? = nil) {
        self.group = group
        self.current = Mutex(configuration)
        self.accessLog = accessLog
        let parkingLot = ParkingLot(counts: connections)
        self.parkingLot = parkingLot
        let loops = Array(group.makeIterator())
        // A plain listener's connections gather by moving between requests; a TLS listener's
        // HTTP/2 ones by where they start (HTTP/1.1 over TLS stays where it was accepted).
        let spreader = configuration.spreadLoops && loops.count > 1 && (!configuration.https || configuration.http2)
            ? LoopSpreader(spread: LoopSpread(loopCount: loops.count), movesConnections: !configuration.https,
                           busyOverride: busyOverride) : nil
        loopSpread = spreader.map(LoopSpreadView.init)
        var contexts: [ObjectIdentifier: NIOLoopBoundBox<LoopContext>] = [:]
        var boxes: [NIOLoopBoundBox<LoopContext>] = []
        var sweepers: [RepeatedTask] = []
        for (index, loop) in loops.enumerated() {
            let box = NIOLoopBoundBox.makeBoxSendingValue(
                LoopContext(eventLoop: loop, configuration: configuration, onPassiveFailure: onPassiveFailure,
                            onDemandWhileEmpty: onDemandWhileEmpty, accessLog: accessLog, splices: splices,
                            parkingLot: parkingLot, connections: connections, spreader: spreader, index: index),
                eventLoop: loop
            )
            contexts[ObjectIdentifier(loop)] = box
            boxes.append(box)
            sweepers.append(loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                box.value.everySecond()
            })
            if spreader != nil {
                sweepers.append(loop.scheduleRepeatedTask(initialDelay: .zero, delay: LoopSpreader.samplePeriod) { _ in
                    box.value.sampleLoad()
                })
            }
        }
        spreader?.attach(boxes)
        self.contexts = contexts
        self.sweepers = sweepers
    }

    /// `threads: auto | N`: `auto` is one event loop per core, of which a plain listener uses as
    /// many as its load needs (``LoopSpread``; see the README's benchmark notes).
    package static func threads(_ configured: Int?) -> Int {
        configured ?? System.coreCount
    }

    func context(for loop: EventLoop) -> LoopContext {
        contexts[ObjectIdentifier(loop)]!.value
    }

    /// Installs a new pool snapshot on every event loop. Backends keep their identity (and
    /// connection pools) across snapshots; unresolvable addresses are skipped and returned.
    @discardableResult
    package func apply(_ snapshot: PoolSnapshot) -> [HostPort] {
        var unresolved: [HostPort] = []
        let set: BackendSet = registry.withLock { registry in
            var set = BackendSet()
            var present = Set<HostPort>()
            for info in snapshot.backends {
                present.insert(info.address)
                let backend: ProxyBackend
                if let existing = registry.byAddress[info.address] {
                    backend = existing
                } else {
                    guard let socketAddress = try? Self.resolve(info.address) else {
                        unresolved.append(info.address)
                        continue
                    }
                    backend = ProxyBackend(address: info.address, socketAddress: socketAddress, slot: registry.nextSlot)
                    registry.nextSlot += 1
                    registry.byAddress[info.address] = backend
                }
                set.all.append(backend)
                if info.state.receivesTraffic { set.eligible.append(backend) }
            }
            registry.byAddress = registry.byAddress.filter { present.contains($0.key) }
            set.slotCount = registry.nextSlot
            return set
        }
        for box in contexts.values {
            box.eventLoop.execute { box.value.install(set) }
        }
        return unresolved
    }

    /// Installs reloaded settings on every event loop, as ``apply(_:)`` installs snapshots: new
    /// connections and the next request of open ones use them; requests in flight are not touched.
    /// The listener's own settings (address, TLS, HTTP/2) stay as they were bound.
    package func reconfigure(_ configuration: ProxyConfiguration) {
        current.withLock { $0 = configuration }
        for box in contexts.values {
            box.eventLoop.execute { box.value.install(configuration) }
        }
    }

    /// In-flight requests per backend, right now.
    package func inflight() -> [HostPort: Int] {
        registry.withLock { $0.byAddress.mapValues(\.inflightRequests) }
    }

    /// Takes every loop's meter (resetting it) and merges them.
    func collect() async -> (merged: TrafficMeter, backends: [Int: HostPort]) {
        var merged = TrafficMeter()
        for box in contexts.values {
            let taken = try? await box.eventLoop.submit { box.value.meter.take() }.get()
            if let taken { merged.merge(taken) }
        }
        let backends = registry.withLock { registry in
            Dictionary(uniqueKeysWithValues: registry.byAddress.values.map { ($0.slot, $0.address) })
        }
        return (merged, backends)
    }

    /// Hands every loop's unfinished access-log batch to the writer (at shutdown, after the drain).
    package func flushAccessLog() async {
        guard accessLog != nil else { return }
        for box in contexts.values {
            try? await box.eventLoop.submit { box.value.accessLog?.flush() }.get()
        }
    }

    /// Graceful shutdown of the connections NIO's quiescing helper does not know: the parked
    /// ones close within the idle grace (unless their client speaks first), and those back from
    /// the parking lot finish their request and close.
    func quiesceParkedConnections() {
        parkingLot?.beginShutdown(grace: ProxyConnectionStateMachine.quiesceGrace)
        for loop in group.makeIterator() {
            loop.execute { self.context(for: loop).quiesceAdopted() }
        }
    }

    package func shutdown() {
        for sweeper in sweepers { sweeper.cancel() }
        parkingLot?.stop()
    }

    static func resolve(_ address: HostPort) throws -> SocketAddress {
        if let ip = try? SocketAddress(ipAddress: address.host, port: address.port) { return ip }
        return try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
    }
}
